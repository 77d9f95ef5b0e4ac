import type pg from 'pg';
import { isDatabaseError } from '../db/index.js';
import type { MigrationDirection } from './migrator-types.js';

/** One row of `cutover.schema_migrations`. */
export interface HistoryEntry {
  id: number;
  /** Null for repeatable migrations. */
  version: string | null;
  name: string;
  kind: 'versioned' | 'repeatable' | 'baseline';
  /** sha256 hex of the normalized up file; for adopted rows whose file did not match, `prisma:<sum>` or `flyway:<crc>`. */
  checksum: string | null;
  appliedAt: Date;
  executionMs: number;
  appliedBy: string;
  runId: string | null;
  source: 'cutover' | 'baseline' | 'prisma' | 'flyway';
}

/** One row of `cutover.migration_checkpoints`. */
export interface CheckpointEntry {
  migrationKey: string;
  direction: MigrationDirection;
  name: string;
  statementsDone: number;
  doneHash: string;
  lastError: string | null;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The key of a migration in the checkpoint table: its version, or `R__<name>` for a repeatable. */
export function migrationKey(version: string | undefined, name: string): string {
  return version ?? `R__${name}`;
}

/**
 * Reads the whole migration history, oldest first. Read-only: when the
 * control schema does not exist yet, the history is empty.
 */
export async function readHistory(db: Queryable): Promise<HistoryEntry[]> {
  try {
    const { rows } = await db.query<{
      id: string;
      version: string | null;
      name: string;
      kind: HistoryEntry['kind'];
      checksum: string | null;
      applied_at: Date;
      execution_ms: number;
      applied_by: string;
      run_id: string | null;
      source: HistoryEntry['source'];
    }>(
      `select id, version, name, kind, checksum, applied_at, execution_ms, applied_by, run_id, source
         from cutover.schema_migrations order by id`,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      version: r.version,
      name: r.name,
      kind: r.kind,
      checksum: r.checksum,
      appliedAt: r.applied_at,
      executionMs: r.execution_ms,
      appliedBy: r.applied_by,
      runId: r.run_id,
      source: r.source,
    }));
  } catch (error) {
    if (isUndefinedControlSchema(error)) return [];
    throw error;
  }
}

/** Reads the statement checkpoints of unfinished non-transactional migrations (read-only). */
export async function readCheckpoints(db: Queryable): Promise<CheckpointEntry[]> {
  try {
    const { rows } = await db.query<{
      migration_key: string;
      direction: MigrationDirection;
      name: string;
      statements_done: number;
      done_hash: string;
      last_error: string | null;
    }>(
      `select migration_key, direction, name, statements_done, done_hash, last_error
         from cutover.migration_checkpoints`,
    );
    return rows.map((r) => ({
      migrationKey: r.migration_key,
      direction: r.direction,
      name: r.name,
      statementsDone: r.statements_done,
      doneHash: r.done_hash,
      lastError: r.last_error,
    }));
  } catch (error) {
    if (isUndefinedControlSchema(error)) return [];
    throw error;
  }
}

/** 42P01 undefined_table / 3F000 invalid_schema_name: the control schema was never created. */
function isUndefinedControlSchema(error: unknown): boolean {
  return isDatabaseError(error) && (error.code === '42P01' || error.code === '3F000');
}
