import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMigrationDir, dbmate, type MigrationDir } from '../../test/helpers/migration-dir.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { Migrator, type MigratorOptions } from './migrator.js';
import type { MigrateEvent } from './migrator-types.js';

let db: TestDatabase;
let files: MigrationDir;
const open: Migrator[] = [];
const clients: pg.Client[] = [];

beforeEach(async () => {
  db = await createTestDatabase('batch');
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
    appliedBy: 'tester',
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 100,
    ...options,
  });
  open.push(m);
  return m;
}

async function session(applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.url, application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

async function tableExists(name: string): Promise<boolean> {
  const { rows } = await db.pool.query<{ t: string | null }>('select to_regclass($1)::text as t', [
    name,
  ]);
  return rows[0]?.t !== null && rows[0]?.t !== undefined;
}

async function history(): Promise<{ version: string | null; execution_ms: number }[]> {
  const { rows } = await db.pool.query<{ version: string | null; execution_ms: number }>(
    'select version, execution_ms from cutover.schema_migrations order by id',
  );
  return rows;
}

async function waitFor(check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 800; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not reached');
}

const versions = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => String(i + 1).padStart(4, '0'));

describe('batched migrations', () => {
  it('sends consecutive migrations in one message, each still in its own transaction with lock_timeout, and records each execution time', async () => {
    for (const v of versions(12)) {
      await files.write(
        `${v}_t${v}.sql`,
        dbmate(
          `create table t${v} as select now() as tx_start, txid_current() as txid, current_setting('lock_timeout') as lock_timeout;`,
        ),
      );
    }
    const events: MigrateEvent[] = [];
    const { results, error } = await migrator({
      lockTimeoutMs: 1234,
      onEvent: (e) => events.push(e),
    }).up();
    expect(error).toBeUndefined();
    expect(results.map((r) => [r.version, r.status, r.attempts])).toEqual(
      versions(12).map((v) => [v, 'applied', 1]),
    );
    const seen = await Promise.all(
      versions(12).map(async (v) => {
        const { rows } = await db.pool.query<{
          tx_start: Date;
          txid: string;
          lock_timeout: string;
        }>(`select tx_start, txid, lock_timeout from t${v}`);
        return rows[0];
      }),
    );
    // One transaction per migration…
    expect(new Set(seen.map((s) => s?.txid)).size).toBe(12);
    expect(seen.every((s) => s?.lock_timeout === '1234ms')).toBe(true);
    // …and the first ones arrived in one message: their transactions share its receipt time.
    expect(new Set(seen.slice(0, 2).map((s) => s?.tx_start.getTime())).size).toBe(1);
    const rows = await history();
    expect(rows.map((r) => r.version)).toEqual(versions(12));
    for (const r of rows) expect(r.execution_ms).toBeGreaterThanOrEqual(0);
    // Progress events stay one start and one end per migration, in order.
    const progress = events
      .filter((e) => e.type === 'migration-start' || e.type === 'migration-end')
      .map((e) =>
        e.type === 'migration-start' ? `start ${e.version}` : `end ${e.result.version}`,
      );
    expect(progress).toEqual(versions(12).flatMap((v) => [`start ${v}`, `end ${v}`]));
  });

  it('records the time a migration of a batch ran as its execution_ms and duration', async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await files.write('0002_slow.sql', dbmate('create table b (id int);\nselect pg_sleep(0.3);'));
    await files.write('0003_c.sql', dbmate('create table c (id int);'));
    const { results, error } = await migrator().up();
    expect(error).toBeUndefined();
    const rows = await history();
    expect(rows[1]?.execution_ms).toBeGreaterThanOrEqual(300);
    expect(results[1]?.durationMs).toBe(rows[1]?.execution_ms);
  });

  it('stops at a failure in the middle of a batch: the earlier migrations stay committed with their history, the failing one leaves no trace, the later ones do not run', async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await files.write('0002_b.sql', dbmate('create table b (id int);'));
    await files.write(
      '0003_broken.sql',
      dbmate('create table c (id int);\ninsert into c values (1);\ninsert into c values (1 / 0);'),
    );
    await files.write('0004_d.sql', dbmate('create table d (id int);'));
    await files.write('0005_e.sql', dbmate('create table e (id int);'));
    const { results, error } = await migrator().up();
    expect(results.map((r) => r.status)).toEqual([
      'applied',
      'applied',
      'failed',
      'pending',
      'pending',
    ]);
    expect(error?.code).toBe('MIGRATION_FAILED');
    expect(error?.message).toContain('division by zero');
    expect(error?.message).toContain('at statement 3');
    expect(error?.message).toContain('SQLSTATE 22012');
    // No position from the server: the statement's start.
    expect(error?.location).toMatch(/0003_broken\.sql:4:1$/);
    expect(error?.details).toMatchObject({ sqlstate: '22012', statementIndex: 2 });
    expect((await history()).map((h) => h.version)).toEqual(['0001', '0002']);
    expect(await tableExists('a')).toBe(true);
    expect(await tableExists('b')).toBe(true);
    for (const t of ['c', 'd', 'e']) expect(await tableExists(t)).toBe(false);
    // The next run continues at the failed migration once it is fixed.
    await files.write('0003_broken.sql', dbmate('create table c (id int);'));
    const again = await migrator().up();
    expect(again.results.map((r) => [r.version, r.status])).toEqual([
      ['0003', 'applied'],
      ['0004', 'applied'],
      ['0005', 'applied'],
    ]);
  });

  it('maps the error position of a failing statement inside a batch to file:line:column, after non-ASCII text in earlier migrations', async () => {
    await files.write(
      '0001_a.sql',
      dbmate("create table a (id int, note text default 'é😀 ; 😀');\ncomment on table a is '𝄞';"),
    );
    await files.write(
      '0002_b.sql',
      dbmate(
        "-- « commentaire » 😀\ncreate table b (\n  id int,\n  nom text default '😀'\n);\ninsert into b (id, nom)\n  values (1, 'x'), (2, undefined_fn());",
      ),
    );
    await files.write('0003_c.sql', dbmate('create table c (id int);'));
    const { results, error } = await migrator().up();
    expect(results.map((r) => r.status)).toEqual(['applied', 'failed', 'pending']);
    expect(error?.code).toBe('MIGRATION_FAILED');
    expect(error?.message).toContain('undefined_fn');
    // undefined_fn starts on line 8, column 24 of 0002_b.sql.
    expect(error?.location).toMatch(/0002_b\.sql:8:24$/);
    expect(error?.details).toMatchObject({ sqlstate: '42883', statementIndex: 1 });
  });

  it('gives the same results with and without batches', async () => {
    for (const v of versions(6)) {
      await files.write(`${v}_t${v}.sql`, dbmate(`create table t${v} (id int);`));
    }
    await files.write('0007_bad.sql', dbmate('create table t0007 (id int);\nselect nosuch;'));
    const batched = await migrator().up();
    const other = await createTestDatabase('batch_off');
    try {
      const plain = await migrator({ databaseUrl: other.url, batch: false }).up();
      const shape = (r: typeof batched): unknown => ({
        results: r.results.map((x) => [x.version, x.status, x.transactional, x.attempts]),
        code: r.error?.code,
        location: r.error?.location,
        message: r.error?.message,
        details: r.error?.details,
      });
      expect(shape(batched)).toEqual(shape(plain));
    } finally {
      await other.drop();
    }
  });

  it('retries a migration of a batch that hits lock_timeout, with backoff and the blocker named, and goes on with the rest', async () => {
    await db.pool.query('create table accounts (id int primary key)');
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await files.write('0002_accounts.sql', dbmate('alter table accounts add column note text;'));
    await files.write('0003_c.sql', dbmate('create table c (id int);'));
    await files.write('0004_d.sql', dbmate('create table d (id int);'));
    const blocker = await session('report-job');
    await blocker.query('begin');
    await blocker.query('lock table accounts in access share mode');
    const blockerPid = (await blocker.query<{ pid: number }>('select pg_backend_pid() as pid'))
      .rows[0]?.pid;
    const events: MigrateEvent[] = [];
    const running = migrator({
      lockTimeoutMs: 100,
      lockRetries: 50,
      onEvent: (e) => events.push(e),
    }).up();
    await waitFor(() => events.filter((e) => e.type === 'lock-timeout-retry').length >= 2);
    // 0001 committed before the lock wait; 0003 has not run.
    expect((await history()).map((h) => h.version)).toEqual(['0001']);
    expect(await tableExists('c')).toBe(false);
    await blocker.query('commit');
    const result = await running;
    expect(result.error).toBeUndefined();
    expect(result.results.map((r) => [r.version, r.status])).toEqual([
      ['0001', 'applied'],
      ['0002', 'applied'],
      ['0003', 'applied'],
      ['0004', 'applied'],
    ]);
    expect(result.results[1]?.attempts).toBeGreaterThan(2);
    const retries = events.filter((e) => e.type === 'lock-timeout-retry');
    expect(retries.every((e) => e.version === '0002')).toBe(true);
    expect(retries.map((e) => e.type === 'lock-timeout-retry' && e.retry).slice(0, 2)).toEqual([
      1, 2,
    ]);
    expect(retries.some((e) => e.blockers.some((b) => b.pid === blockerPid))).toBe(true);
    const starts = events.filter((e) => e.type === 'migration-start').map((e) => e.version);
    expect(starts).toEqual(['0001', '0002', '0003', '0004']);
  });

  it('fails with MIGRATION_LOCK_TIMEOUT naming the blocker when a migration of a batch stays blocked, after running the ones before it', async () => {
    await db.pool.query('create table accounts (id int primary key)');
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await files.write('0002_accounts.sql', dbmate('alter table accounts add column note text;'));
    await files.write('0003_c.sql', dbmate('create table c (id int);'));
    const blocker = await session('nightly-report');
    await blocker.query('begin');
    await blocker.query('select count(*) from accounts');
    const blockerPid = (await blocker.query<{ pid: number }>('select pg_backend_pid() as pid'))
      .rows[0]?.pid;
    const result = await migrator({ lockTimeoutMs: 150, lockRetries: 2 }).up();
    expect(result.results.map((r) => [r.version, r.status])).toEqual([
      ['0001', 'applied'],
      ['0002', 'failed'],
      ['0003', 'pending'],
    ]);
    expect(result.results[1]?.attempts).toBe(3);
    expect(result.error?.code).toBe('MIGRATION_LOCK_TIMEOUT');
    expect(result.error?.message).toContain(`pid ${blockerPid}`);
    expect(result.error?.message).toContain('app "nightly-report"');
    expect(result.error?.message).toContain('SQLSTATE 55P03');
    expect((await history()).map((h) => h.version)).toEqual(['0001']);
    expect(await tableExists('c')).toBe(false);
    await blocker.query('rollback');
  });

  it('reports progress while a long batch runs: migrations committed so far end, the running one starts', async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await files.write('0002_slow.sql', dbmate('create table b (id int);\nselect pg_sleep(4);'));
    await files.write('0003_c.sql', dbmate('create table c (id int);'));
    const events: MigrateEvent[] = [];
    const cWhenSlowStarted: Promise<boolean>[] = [];
    const result = await migrator({
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'migration-start' && e.version === '0002') {
          cWhenSlowStarted.push(tableExists('c'));
        }
      },
    }).up();
    expect(result.error).toBeUndefined();
    // 0002's start was reported while it ran (0003 had not run yet), after 0001 ended.
    expect(await Promise.all(cWhenSlowStarted)).toEqual([false]);
    const progress = events
      .filter((e) => e.type === 'migration-start' || e.type === 'migration-end')
      .map((e) =>
        e.type === 'migration-start' ? `start ${e.version}` : `end ${e.result.version}`,
      );
    expect(progress).toEqual([
      'start 0001',
      'end 0001',
      'start 0002',
      'end 0002',
      'start 0003',
      'end 0003',
    ]);
  });

  it('reports a connection lost in the middle of a batch: committed migrations applied, the running one failed without trace, the rest pending', async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await files.write('0002_slow.sql', dbmate('create table slow (id int);\nselect pg_sleep(30);'));
    await files.write('0003_c.sql', dbmate('create table c (id int);'));
    const m = migrator();
    const running = m.up();
    await waitFor(async () => {
      const { rows } = await db.pool.query<{ pid: number }>(
        `select pid from pg_stat_activity
          where wait_event = 'PgSleep' and datname = current_database() and pid <> pg_backend_pid()`,
      );
      if (rows[0] === undefined) return false;
      await db.pool.query('select pg_terminate_backend($1)', [rows[0].pid]);
      return true;
    });
    const result = await running;
    expect(result.results.map((r) => [r.version, r.status])).toEqual([
      ['0001', 'applied'],
      ['0002', 'failed'],
      ['0003', 'pending'],
    ]);
    expect(result.error?.code).toBe('DATABASE_CONNECTION_LOST');
    expect((await history()).map((h) => h.version)).toEqual(['0001']);
    expect(await tableExists('slow')).toBe(false);
    expect(await tableExists('c')).toBe(false);
  });

  it('runs non-transactional and down migrations on their own between batches', async () => {
    await files.write('0001_t.sql', dbmate('create table t (id int);', 'drop table t;'));
    await files.write('0002_u.sql', dbmate('create table u (id int);', 'drop table u;'));
    await files.write(
      '0003_i.sql',
      dbmate('create index concurrently t_id on t (id);', 'drop index concurrently t_id;'),
    );
    await files.write('0004_v.sql', dbmate('create table v (id int);', 'drop table v;'));
    await files.write('0005_w.sql', dbmate('create table w (id int);', 'drop table w;'));
    const up = await migrator().up();
    expect(up.error).toBeUndefined();
    expect(up.results.map((r) => [r.version, r.status, r.transactional])).toEqual([
      ['0001', 'applied', true],
      ['0002', 'applied', true],
      ['0003', 'applied', false],
      ['0004', 'applied', true],
      ['0005', 'applied', true],
    ]);
    const down = await migrator().down({ to: null });
    expect(down.error).toBeUndefined();
    expect(down.results.map((r) => [r.version, r.status])).toEqual([
      ['0005', 'reverted'],
      ['0004', 'reverted'],
      ['0003', 'reverted'],
      ['0002', 'reverted'],
      ['0001', 'reverted'],
    ]);
    expect(await history()).toEqual([]);
  });

  it('runs the migrations of a batch the server refuses to parse one by one, so the ones before the bad one are applied and the failure is exact', async () => {
    // VIRTUAL generated columns are PostgreSQL 18 syntax: cutover's parser
    // (PostgreSQL 18's grammar) accepts the file, an older server refuses the
    // whole message before running any of it.
    const { rows } = await db.pool.query<{ v: number }>(
      `select current_setting('server_version_num')::int as v`,
    );
    const olderThan18 = (rows[0]?.v ?? 0) < 180000;
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await files.write('0002_b.sql', dbmate('create table b (id int);'));
    await files.write(
      '0003_virtual.sql',
      dbmate('create table v (\n  a int,\n  b int generated always as (a * 2) virtual\n);'),
    );
    await files.write('0004_d.sql', dbmate('create table d (id int);'));
    const result = await migrator().up();
    if (olderThan18) {
      expect(result.results.map((r) => r.status)).toEqual([
        'applied',
        'applied',
        'failed',
        'pending',
      ]);
      expect(result.error?.code).toBe('MIGRATION_FAILED');
      expect(result.error?.details).toMatchObject({ sqlstate: '42601', statementIndex: 0 });
      // Where "virtual" starts.
      expect(result.error?.location).toMatch(/0003_virtual\.sql:4:37$/);
      expect((await history()).map((h) => h.version)).toEqual(['0001', '0002']);
      expect(await tableExists('d')).toBe(false);
    } else {
      expect(result.error).toBeUndefined();
      expect((await history()).map((h) => h.version)).toEqual(['0001', '0002', '0003', '0004']);
    }
  });

  it('ends a batch after a migration that changes how the session reads strings, so later migrations mean what they mean without batches', async () => {
    const write = async (): Promise<void> => {
      await files.write('0001_a.sql', dbmate('create table a (id int);'));
      await files.write('0002_scs.sql', dbmate('set standard_conforming_strings = off;'));
      await files.write(
        '0003_s.sql',
        dbmate("create table s (v text);\ninsert into s values ('x\\ty');"),
      );
      await files.write('0004_d.sql', dbmate('create table d (id int);'));
    };
    await write();
    const batched = await migrator().up();
    expect(batched.error).toBeUndefined();
    const other = await createTestDatabase('batch_scs');
    try {
      const plain = await migrator({ databaseUrl: other.url, batch: false }).up();
      expect(plain.error).toBeUndefined();
      const read = async (pool: pg.Pool): Promise<string | undefined> =>
        (await pool.query<{ v: string }>('select v from s')).rows[0]?.v;
      // With standard_conforming_strings off, \t in a plain literal is a tab.
      expect(await read(db.pool)).toBe('x\ty');
      expect(await read(db.pool)).toBe(await read(other.pool));
    } finally {
      await other.drop();
    }
  });

  it('keeps a migration ending in a line comment from swallowing the next one', async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int) -- trailing comment'));
    await files.write('0002_b.sql', dbmate('create table b (id int); -- after the semicolon'));
    await files.write('0003_c.sql', dbmate('create table c (id int)\n-- last line comment'));
    const { error } = await migrator().up();
    expect(error).toBeUndefined();
    for (const t of ['a', 'b', 'c']) expect(await tableExists(t)).toBe(true);
    expect((await history()).map((h) => h.version)).toEqual(['0001', '0002', '0003']);
  });

  it('applies Flyway repeatable migrations in a batch after the versioned ones', async () => {
    await files.write('V1__items.sql', 'create table items (id int, price int);');
    await files.write('V2__more.sql', 'alter table items add column name text;');
    await files.write(
      'R__items_view.sql',
      'create or replace view items_v as select id from items;',
    );
    const first = await migrator().up();
    expect(first.results.map((r) => [r.version, r.name, r.status])).toEqual([
      ['1', 'items', 'applied'],
      ['2', 'more', 'applied'],
      [undefined, 'items_view', 'applied'],
    ]);
    await files.write(
      'R__items_view.sql',
      'create or replace view items_v as select id, price from items;',
    );
    await files.write('V3__more.sql', 'alter table items add column other text;');
    const second = await migrator().up();
    expect(second.results.map((r) => [r.version, r.name, r.status])).toEqual([
      ['3', 'more', 'applied'],
      [undefined, 'items_view', 'applied'],
    ]);
    const { rows } = await db.pool.query<{ n: string }>(
      `select count(*) as n from cutover.schema_migrations where kind = 'repeatable'`,
    );
    expect(rows[0]?.n).toBe('1');
  });
});
