import type pg from 'pg';

/** Input of {@link recordFlagEvent}: one entry of the audit log. */
export interface NewFlagEvent {
  at: Date;
  actor: string;
  /** A `FlagAction`, `segment-create|update|delete`, or `token-create` / `token-revoke`. */
  action: string;
  flagKey?: string | null | undefined;
  environment?: string | null | undefined;
  version?: number | null | undefined;
  reason?: string | null | undefined;
  details: Record<string, unknown>;
}

/**
 * Appends an entry to the audit log of flag, segment and token changes
 * (`cutover.flag_events`, append-only) through `db`, usually inside the
 * change's transaction. Absent fields are stored as null.
 */
export async function recordFlagEvent(db: pg.ClientBase, event: NewFlagEvent): Promise<void> {
  await db.query(
    `insert into cutover.flag_events (at, actor, action, flag_key, environment, version, reason, details)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      event.at,
      event.actor,
      event.action,
      event.flagKey ?? null,
      event.environment ?? null,
      event.version ?? null,
      event.reason ?? null,
      JSON.stringify(event.details),
    ],
  );
}
