import type pg from 'pg';
import { isDatabaseError } from '../db/index.js';
import { CutoverError } from '../errors/index.js';
import { advisoryLockKey } from '../store/index.js';
import type { LockHolder } from './migrator-types.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Key of the session advisory lock held for the whole of `migrate up`/`down`
 * (and baseline/adopt): at most one migrator per database at a time.
 */
export const MIGRATION_LOCK_KEY = advisoryLockKey('cutover:migrate');

/**
 * Advisory lock key held, for its whole life, by the connection that executes
 * migrations. A migrator killed mid-run (SIGKILL) loses its
 * {@link MIGRATION_LOCK_KEY} connection at once, but the server may still be
 * running that migrator's already-sent statements on the execution connection
 * and commit them; the next migrator waits for this key before it reads the
 * history, so it never races a dead migrator's in-flight transaction.
 */
export const MIGRATION_EXECUTOR_LOCK_KEY = advisoryLockKey('cutover:migrate:executor');

/**
 * Waits (up to `waitMs`) until no connection holds
 * {@link MIGRATION_EXECUTOR_LOCK_KEY} — i.e. until an orphaned execution
 * session of a killed migrator has finished — then returns. With `hold`, the
 * lock stays held by `client` (the execution connection) until it disconnects.
 *
 * @throws the server's lock timeout error (SQLSTATE 55P03) when it is still held after `waitMs`.
 */
export async function awaitExecutorLock(
  client: { query(text: string, values?: unknown[]): Promise<unknown> },
  options: { waitMs: number; hold: boolean },
): Promise<void> {
  await client.query(`select set_config('lock_timeout', $1, false)`, [
    `${Math.max(1, Math.round(options.waitMs))}ms`,
  ]);
  try {
    await client.query('select pg_advisory_lock($1::bigint)', [MIGRATION_EXECUTOR_LOCK_KEY]);
    if (!options.hold) {
      await client.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_EXECUTOR_LOCK_KEY]);
    }
  } finally {
    await client.query(`select set_config('lock_timeout', '0', false)`);
  }
}

/**
 * The sessions holding the advisory lock `key` in the current database, from
 * `pg_locks` joined with `pg_stat_activity`. "Since" is when the holder's
 * last statement finished if it is idle (cutover's lock connection stays idle
 * after taking the lock), else when its transaction or query started.
 */
export async function findLockHolders(db: Queryable, key: string): Promise<LockHolder[]> {
  const { rows } = await db.query<{
    pid: number;
    application_name: string | null;
    client_addr: string | null;
    usename: string | null;
    since: Date | null;
    state: string | null;
  }>(
    `select a.pid, a.application_name, host(a.client_addr) as client_addr, a.usename, a.state,
            case when a.state = 'idle' then a.state_change else coalesce(a.xact_start, a.query_start) end as since
       from pg_locks l
       join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid::bigint = (($1::bigint >> 32) & 4294967295)
        and l.objid::bigint = ($1::bigint & 4294967295)`,
    [key],
  );
  return rows.map((r) => ({
    pid: r.pid,
    applicationName: r.application_name ?? '',
    clientAddress: r.client_addr,
    user: r.usename,
    since: r.since,
    state: r.state,
  }));
}

/** `pid 4711 (application "cutover migrate", client 10.0.0.5, user app, holding it since 2024-05-01T10:00:00.000Z)`. */
export function describeHolders(holders: readonly LockHolder[]): string {
  if (holders.length === 0)
    return 'a session that has just released it or is not visible to this user';
  return holders
    .map((h) => {
      const parts = [`application "${h.applicationName}"`];
      parts.push(h.clientAddress === null ? 'local socket' : `client ${h.clientAddress}`);
      if (h.user !== null) parts.push(`user ${h.user}`);
      if (h.since !== null) parts.push(`holding it since ${h.since.toISOString()}`);
      return `pid ${h.pid} (${parts.join(', ')})`;
    })
    .join('; ');
}

/** A held session advisory lock. */
export interface HeldLock {
  /** Backend pid of the connection holding it. */
  readonly pid: number;
  /** How long the acquisition waited, in ms. */
  readonly waitedMs: number;
  /**
   * Releases the lock. Resolves `false` when PostgreSQL says this session did
   * not hold it (the connection was swapped, e.g. by a transaction-mode pooler).
   */
  release(): Promise<boolean>;
}

/** Options of {@link acquireMigrationLock}. */
export interface AcquireLockOptions {
  /** Lock key. Default {@link MIGRATION_LOCK_KEY}. */
  key?: string;
  /** How long to wait for a busy lock, in ms (0 = fail at once). */
  waitMs: number;
  /** A connection other than `client`, to look up the holder. */
  monitor: Queryable;
  /** Called once when the lock is busy, before waiting. */
  onWait?: (holders: LockHolder[]) => void;
  /** Current time in ms (for `waitedMs`). */
  now: () => number;
}

/**
 * Takes the session advisory lock on `client` (a dedicated connection that
 * must stay checked out until `release()`): first `pg_try_advisory_lock`; if
 * busy, reports the holder through `onWait`, then waits with
 * `pg_advisory_lock` under `lock_timeout = waitMs`.
 *
 * @throws CutoverError `LOCK_BUSY` (category `busy`) naming the holder (pid,
 *   application_name, client address, since when) when the wait runs out.
 */
export async function acquireMigrationLock(
  client: pg.ClientBase,
  options: AcquireLockOptions,
): Promise<HeldLock> {
  const key = options.key ?? MIGRATION_LOCK_KEY;
  const started = options.now();
  const first = await client.query<{ locked: boolean; pid: number }>(
    'select pg_try_advisory_lock($1::bigint) as locked, pg_backend_pid() as pid',
    [key],
  );
  const pid = first.rows[0]?.pid ?? 0;
  const held = (): HeldLock => ({
    pid,
    waitedMs: options.now() - started,
    async release() {
      const { rows } = await client.query<{ unlocked: boolean }>(
        'select pg_advisory_unlock($1::bigint) as unlocked',
        [key],
      );
      return rows[0]?.unlocked === true;
    },
  });
  if (first.rows[0]?.locked === true) return held();

  options.onWait?.(await findLockHolders(options.monitor, key).catch(() => []));
  if (options.waitMs > 0) {
    try {
      await client.query(`set lock_timeout = ${Math.max(1, Math.round(options.waitMs))}`);
      await client.query('select pg_advisory_lock($1::bigint)', [key]);
      return held();
    } catch (error) {
      if (!(isDatabaseError(error) && error.code === '55P03')) throw error;
    } finally {
      await client.query('reset lock_timeout').catch(() => undefined);
    }
  }
  const holders = await findLockHolders(options.monitor, key).catch(() => []);
  const waited = options.now() - started;
  throw new CutoverError(
    'LOCK_BUSY',
    'busy',
    `Another migration is running on this database: the migration lock is held by ${describeHolders(holders)}; waited ${(waited / 1000).toFixed(1)} s.`,
    {
      hint:
        holders.length > 0
          ? `Wait for it to finish and run the command again, or raise --lock-wait. If that process is gone but its session is stuck, end it with SELECT pg_terminate_backend(${holders[0]?.pid ?? 0}).`
          : 'Run the command again.',
      details: { holders, waitedMs: waited },
    },
  );
}
