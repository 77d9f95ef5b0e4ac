import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMigrationDir, dbmate, type MigrationDir } from '../../test/helpers/migration-dir.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { MIGRATION_LOCK_KEY } from './migration-lock.js';
import { Migrator, type MigratorOptions } from './migrator.js';
import type { MigrateEvent } from './migrator-types.js';

let db: TestDatabase;
let files: MigrationDir;
const open: Migrator[] = [];
const clients: pg.Client[] = [];

beforeEach(async () => {
  db = await createTestDatabase('lock');
  files = await createMigrationDir();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  await Promise.all(open.splice(0).map((m) => m.close()));
  await db.drop();
  await files.cleanup();
});

function migrator(options: Partial<MigratorOptions> = {}): Migrator {
  const m = new Migrator({
    databaseUrl: db.url,
    dir: files.dir,
    retryBaseDelayMs: 50,
    retryMaxDelayMs: 200,
    ...options,
  });
  open.push(m);
  return m;
}

/** A separate session, as another application would have. */
async function session(applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.url, application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not reached');
}

describe('advisory lock between migrators', () => {
  it('makes a second migrator wait, then fail with LOCK_BUSY naming the holder (pid, application_name, client address, since when)', async () => {
    await files.write('0001_slow.sql', dbmate('create table slow (id int);\nselect pg_sleep(3);'));
    const events: MigrateEvent[] = [];
    const first = migrator().up();
    await waitFor(async () => {
      const { rows } = await db.pool.query(
        `select 1 from pg_locks where locktype = 'advisory' and granted and objid::bigint = ($1::bigint & 4294967295)`,
        [MIGRATION_LOCK_KEY],
      );
      return rows.length > 0;
    });
    const { rows: holderRows } = await db.pool.query<{ pid: number }>(
      `select pid from pg_locks where locktype = 'advisory' and granted and objid::bigint = ($1::bigint & 4294967295)`,
      [MIGRATION_LOCK_KEY],
    );
    const holderPid = holderRows[0]?.pid;
    const second = await migrator({ lockWaitMs: 300, onEvent: (e) => events.push(e) }).up();
    expect(second.error?.code).toBe('LOCK_BUSY');
    expect(second.error?.category).toBe('busy');
    expect(second.error?.message).toContain(`pid ${holderPid}`);
    expect(second.error?.message).toContain('application "cutover migrate"');
    expect(second.error?.message).toContain('client 127.0.0.1');
    expect(second.error?.message).toMatch(/holding it since \d{4}-\d\d-\d\dT/);
    expect(second.results.map((r) => r.status)).toEqual(['pending']);
    expect(events.find((e) => e.type === 'lock-wait')).toMatchObject({
      holders: [{ pid: holderPid, applicationName: 'cutover migrate' }],
    });
    const done = await first;
    expect(done.results.map((r) => r.status)).toEqual(['applied']);
  });

  it('lets only one of two concurrent migrators apply: the other waits for the lock and then finds nothing to do', async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int);\nselect pg_sleep(0.5);'));
    await files.write('0002_b.sql', dbmate('create table b (id int);'));
    const [x, y] = await Promise.all([
      migrator({ lockWaitMs: 30_000 }).up(),
      migrator({ lockWaitMs: 30_000 }).up(),
    ]);
    expect(x.error).toBeUndefined();
    expect(y.error).toBeUndefined();
    const applied = [...x.results, ...y.results].filter((r) => r.status === 'applied');
    expect(applied.map((r) => r.version).sort()).toEqual(['0001', '0002']);
    expect([x.results.length, y.results.length].sort()).toEqual([0, 2]);
    const { rows } = await db.pool.query('select version from cutover.schema_migrations');
    expect(rows).toHaveLength(2);
  });
});

describe('lock_timeout with retries', () => {
  beforeEach(async () => {
    await db.pool.query('create table accounts (id int primary key, balance int)');
    await files.write('0001_add.sql', dbmate('alter table accounts add column note text;'));
  });

  it('retries a migration blocked by a long transaction and succeeds once the blocker releases its lock', async () => {
    const blocker = await session('report-job');
    await blocker.query('begin');
    await blocker.query('lock table accounts in access share mode');
    await blocker.query('select count(*) from accounts');
    const events: MigrateEvent[] = [];
    const running = migrator({
      lockTimeoutMs: 100,
      lockRetries: 50,
      onEvent: (e) => events.push(e),
    }).up();
    await waitFor(async () => Promise.resolve(events.some((e) => e.type === 'lock-timeout-retry')));
    await waitFor(async () =>
      Promise.resolve(events.filter((e) => e.type === 'lock-timeout-retry').length >= 2),
    );
    await blocker.query('commit');
    const result = await running;
    expect(result.error).toBeUndefined();
    expect(result.results[0]?.status).toBe('applied');
    expect(result.results[0]?.attempts).toBeGreaterThan(1);
    const retries = events.filter((e) => e.type === 'lock-timeout-retry');
    const blockerPid = (await blocker.query<{ pid: number }>('select pg_backend_pid() as pid'))
      .rows[0]?.pid;
    expect(retries.some((e) => e.blockers.some((b) => b.pid === blockerPid))).toBe(true);
  });

  it('fails with MIGRATION_LOCK_TIMEOUT naming the blocking session (pid, state, transaction age, query) when the lock stays held', async () => {
    const blocker = await session('report-job');
    await blocker.query('begin');
    await blocker.query('select count(*) from accounts /* nightly report */');
    const blockerPid = (await blocker.query<{ pid: number }>('select pg_backend_pid() as pid'))
      .rows[0]?.pid;
    const result = await migrator({ lockTimeoutMs: 150, lockRetries: 2 }).up();
    expect(result.error?.code).toBe('MIGRATION_LOCK_TIMEOUT');
    expect(result.error?.category).toBe('busy');
    expect(result.results[0]).toMatchObject({ status: 'failed', attempts: 3 });
    expect(result.error?.message).toContain(`pid ${blockerPid}`);
    expect(result.error?.message).toContain('idle in transaction');
    expect(result.error?.message).toContain('app "report-job"');
    expect(result.error?.message).toContain('select pg_backend_pid() as pid');
    expect(result.error?.message).toContain('SQLSTATE 55P03');
    expect(result.error?.hint).toContain(`pg_terminate_backend(${blockerPid})`);
    expect(result.error?.details).toMatchObject({
      blockers: [{ pid: blockerPid, state: 'idle in transaction' }],
    });
    const details = result.error?.details as { blockers: { transactionAgeMs: number }[] };
    expect(details.blockers[0]?.transactionAgeMs).toBeGreaterThan(0);
    const cols = await db.pool.query(
      `select 1 from information_schema.columns where table_name = 'accounts' and column_name = 'note'`,
    );
    expect(cols.rows).toHaveLength(0);
    await blocker.query('rollback');
  });

  it('retries a blocked statement of a non-transactional migration on its own', async () => {
    await files.write(
      '0002_idx.sql',
      dbmate(
        'create index concurrently accounts_balance on accounts (balance);\nalter table accounts add column extra int;',
      ),
    );
    await migrator().up({ to: '0001' });
    const blocker = await session('locker');
    await blocker.query('begin');
    await blocker.query('lock table accounts in access share mode');
    const events: MigrateEvent[] = [];
    const running = migrator({
      lockTimeoutMs: 100,
      lockRetries: 50,
      onEvent: (e) => events.push(e),
    }).up();
    await waitFor(async () => Promise.resolve(events.some((e) => e.type === 'lock-timeout-retry')));
    await blocker.query('commit');
    const result = await running;
    expect(result.error).toBeUndefined();
    expect(result.results[0]).toMatchObject({
      version: '0002',
      status: 'applied',
      transactional: false,
    });
  });
});
