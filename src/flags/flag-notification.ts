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
 * The {@link FlagNotification} payload of a flag change at `revision` that
 * altered the client payload of `envs`, as JSON. When the list would make the
 * payload too long for NOTIFY, `environments: null` (every environment).
 */
export function notificationPayload(revision: number, envs: string[]): string {
  const environments = Object.fromEntries(envs.map((env) => [env, revision]));
  const full = JSON.stringify({ type: 'flags', revision, environments });
  return full.length <= NOTIFY_LIMIT
    ? full
    : JSON.stringify({ type: 'flags', revision, environments: null });
}
