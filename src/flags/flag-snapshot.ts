import type pg from 'pg';
import { schemaMissing } from './flag-store-errors.js';
import type { Flag, Segment } from './model.js';

/**
 * A consistent picture of every flag, read in one statement: what the server
 * turns into client payloads.
 */
export interface FlagSnapshot {
  /** Random id of this database's flag store (ETags of two databases never collide). */
  epoch: string;
  /** Global revision: bumped by every committed change. */
  revision: number;
  /** Revision per environment that some change touched; others use {@link FlagSnapshot.revision}. */
  environments: Record<string, number>;
  /** Every flag, sorted by key. */
  flags: Flag[];
  /** Every segment, sorted by id. */
  segments: Segment[];
}

/**
 * The revision of `env`'s client payload in `snapshot`: the global revision
 * of the last change that altered it. For an environment no change ever
 * touched, the global revision (conservative: it changes with every change,
 * but never goes back). Monotonic per environment.
 */
export function environmentRevision(snapshot: FlagSnapshot, env: string): number {
  return snapshot.environments[env] ?? snapshot.revision;
}

/**
 * Reads every flag, segment and revision in one statement.
 *
 * @throws CutoverError `CONTROL_SCHEMA_MISSING` (config) when `flag_state` is empty.
 */
export async function readFlagSnapshot(pool: pg.Pool): Promise<FlagSnapshot> {
  const { rows } = await pool.query<{
    epoch: string;
    revision: string;
    environments: Record<string, string> | null;
    flags: Flag[] | null;
    segments: Segment[] | null;
  }>(
    `select s.epoch, s.revision,
            (select json_object_agg(environment, revision) from cutover.flag_environments) as environments,
            (select json_agg(definition order by key) from cutover.flags) as flags,
            (select json_agg(definition order by id) from cutover.flag_segments) as segments
       from cutover.flag_state s`,
  );
  const row = rows[0];
  if (row === undefined) throw schemaMissing();
  const environments: Record<string, number> = {};
  for (const [env, revision] of Object.entries(row.environments ?? {})) {
    environments[env] = Number(revision);
  }
  return {
    epoch: row.epoch,
    revision: Number(row.revision),
    environments,
    flags: row.flags ?? [],
    segments: row.segments ?? [],
  };
}
