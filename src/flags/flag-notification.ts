import type pg from 'pg';

/** The LISTEN/NOTIFY channel on which every committed flag or token change is announced. */
export const FLAG_CHANNEL = 'cutover_flags';

/**
 * A message on {@link FLAG_CHANNEL} (JSON):
 * - `{ type: 'flags', revision, environments }`: flags changed; `environments`
 *   maps each environment whose client payload changed to its new revision
 *   (null: assume every environment changed);
 * - `{ type: 'tokens' }`: a token was created or revoked.
 */
export type FlagNotification =
  | { type: 'flags'; revision: number; environments: Record<string, number> | null }
  | { type: 'tokens' };

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; stay below with some margin. */
const NOTIFY_LIMIT = 7900;

/**
 * `notification` as the JSON payload of a NOTIFY. A `flags` notification
 * whose list of environments would make it too long is sent with
 * `environments: null` (every environment).
 */
export function notificationPayload(notification: FlagNotification): string {
  const full = JSON.stringify(notification);
  if (notification.type !== 'flags' || full.length <= NOTIFY_LIMIT) return full;
  return JSON.stringify({ ...notification, environments: null });
}

/**
 * Announces `notification` on {@link FLAG_CHANNEL} through `db`; inside a
 * transaction, PostgreSQL delivers it on commit (and drops it on rollback).
 */
export async function notifyFlagChange(
  db: pg.ClientBase,
  notification: FlagNotification,
): Promise<void> {
  await db.query('select pg_notify($1, $2)', [FLAG_CHANNEL, notificationPayload(notification)]);
}
