import pg from 'pg';
import { isConnectionError, isDatabaseError, toConnectionError } from '../db/index.js';
import { CutoverError } from '../errors/index.js';
import { advisoryLockKey } from './advisory-lock-key.js';
import { CONTROL_MIGRATIONS, type ControlMigration } from './control-migrations/index.js';

/** Name of cutover's own schema in the target (or control) database. */
export const CONTROL_SCHEMA = 'cutover';

/** Advisory lock key taken (transaction-scoped) while the control schema is migrated. */
export const CONTROL_SCHEMA_LOCK_KEY = advisoryLockKey('cutover:control-schema');

/** What {@link ensureControlSchema} did. */
export interface ControlSchemaResult {
  /** Versions of internal migrations applied by this call (empty when it was up to date). */
  applied: number[];
  /** Highest internal migration version now applied. */
  version: number;
  /**
   * Versions recorded in the database that this cutover does not know (the
   * database was migrated by a newer cutover). They are left alone.
   */
  unknown: number[];
}

/** Options of {@link ensureControlSchema}. */
export interface EnsureControlSchemaOptions {
  /** The internal migrations to apply. Default {@link CONTROL_MIGRATIONS}; tests pass their own. */
  migrations?: readonly ControlMigration[];
}

/**
 * Creates and migrates cutover's control schema (`cutover`) in the database
 * behind `db` to the latest internal version, using cutover's own internal
 * migrations ({@link CONTROL_MIGRATIONS}).
 *
 * - Fast path: one query reads `cutover.control_schema_migrations`; when every
 *   known version is recorded, nothing else happens.
 * - Otherwise, in ONE transaction holding the transaction-scoped advisory lock
 *   {@link CONTROL_SCHEMA_LOCK_KEY} (so concurrent callers serialise and the
 *   second one finds the work done): creates schema `cutover` and the table
 *   `control_schema_migrations (version int primary key, name, applied_at)`
 *   if missing, then runs each missing migration in version order and records
 *   it. Any failure rolls the whole call back.
 *
 * Safe to call on every start; idempotent.
 *
 * @param db A pool (a client is checked out for the transaction) or a client
 *   that is not inside a transaction.
 * @throws CutoverError `DATABASE_UNREACHABLE` (unavailable) when the database
 *   cannot be reached; `CONTROL_SCHEMA_FAILED` (failed) when a migration fails,
 *   e.g. for lack of the CREATE privilege on the database.
 */
export async function ensureControlSchema(
  db: pg.Pool | pg.ClientBase,
  options: EnsureControlSchemaOptions = {},
): Promise<ControlSchemaResult> {
  const migrations = [...(options.migrations ?? CONTROL_MIGRATIONS)].sort(
    (a, b) => a.version - b.version,
  );
  const latest = migrations.at(-1)?.version ?? 0;
  try {
    const recorded = await readRecorded(db);
    if (recorded !== undefined && migrations.every((m) => recorded.has(m.version))) {
      return { applied: [], version: latest, unknown: unknownVersions(recorded, migrations) };
    }
    const client = db instanceof pg.Pool ? await db.connect() : db;
    try {
      return await migrateInTransaction(client, migrations, latest);
    } finally {
      if (db instanceof pg.Pool) (client as pg.PoolClient).release();
    }
  } catch (error) {
    if (error instanceof CutoverError) throw error;
    if (isConnectionError(error)) throw toConnectionError(error, 'the control database');
    throw new CutoverError(
      'CONTROL_SCHEMA_FAILED',
      'failed',
      `Could not create or migrate cutover's control schema "${CONTROL_SCHEMA}": ${error instanceof Error ? error.message : String(error)}.`,
      {
        hint:
          isDatabaseError(error) && error.code === '42501'
            ? `Grant the database user the CREATE privilege on the database (GRANT CREATE ON DATABASE … TO …), or create schema "${CONTROL_SCHEMA}" owned by it.`
            : "Check the database user's privileges and the server log; the control schema was left unchanged.",
        cause: error,
      },
    );
  }
}

async function readRecorded(db: pg.Pool | pg.ClientBase): Promise<Set<number> | undefined> {
  try {
    const { rows } = await db.query<{ version: number }>(
      `select version from ${CONTROL_SCHEMA}.control_schema_migrations`,
    );
    return new Set(rows.map((r) => r.version));
  } catch (error) {
    // 42P01 undefined_table, 3F000 invalid_schema_name: first use.
    if (isDatabaseError(error) && (error.code === '42P01' || error.code === '3F000')) {
      return undefined;
    }
    throw error;
  }
}

async function migrateInTransaction(
  client: pg.ClientBase,
  migrations: readonly ControlMigration[],
  latest: number,
): Promise<ControlSchemaResult> {
  await client.query('begin');
  try {
    await client.query('select pg_advisory_xact_lock($1::bigint)', [CONTROL_SCHEMA_LOCK_KEY]);
    await client.query(`create schema if not exists ${CONTROL_SCHEMA}`);
    await client.query(
      `create table if not exists ${CONTROL_SCHEMA}.control_schema_migrations (
         version integer primary key,
         name text not null,
         applied_at timestamptz not null default now()
       )`,
    );
    const { rows } = await client.query<{ version: number }>(
      `select version from ${CONTROL_SCHEMA}.control_schema_migrations`,
    );
    const recorded = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (recorded.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query(
        `insert into ${CONTROL_SCHEMA}.control_schema_migrations (version, name) values ($1, $2)`,
        [migration.version, migration.name],
      );
      applied.push(migration.version);
    }
    await client.query('commit');
    return { applied, version: latest, unknown: unknownVersions(recorded, migrations) };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

function unknownVersions(recorded: Set<number>, migrations: readonly ControlMigration[]): number[] {
  const known = new Set(migrations.map((m) => m.version));
  return [...recorded].filter((v) => !known.has(v)).sort((a, b) => a - b);
}
