import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createMigrationDir, dbmate, type MigrationDir } from '../../test/helpers/migration-dir.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { ensureControlSchema } from '../store/index.js';
import { loadMigrations } from './load-migrations.js';
import { hashStatements } from './migration-executor.js';
import { Migrator, type MigratorOptions } from './migrator.js';
import type { MigrateEvent } from './migrator-types.js';

let db: TestDatabase;
let files: MigrationDir;
const open: Migrator[] = [];

beforeEach(async () => {
  db = await createTestDatabase('mig');
  files = await createMigrationDir();
});
afterEach(async () => {
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

async function tableExists(name: string): Promise<boolean> {
  const { rows } = await db.pool.query<{ t: string | null }>('select to_regclass($1)::text as t', [
    name,
  ]);
  return rows[0]?.t !== null && rows[0]?.t !== undefined;
}

async function history(): Promise<{ version: string | null; name: string }[]> {
  const { rows } = await db.pool.query<{ version: string | null; name: string }>(
    'select version, name from cutover.schema_migrations order by id',
  );
  return rows;
}

describe('Migrator.up', () => {
  it('applies pending migrations in version order and records version, name, checksum, duration, applied_by and run id', async () => {
    await files.write('0002_add_email.sql', dbmate('alter table users add column email text;'));
    await files.write(
      '0001_create_users.sql',
      dbmate('create table users (id bigint primary key);', 'drop table users;'),
    );
    const runId = '7f1c2a4e-0a7b-4c55-9d2e-3f1e5b6a7c8d';
    const { results, error } = await migrator({ runId }).up();
    expect(error).toBeUndefined();
    expect(results.map((r) => [r.version, r.status, r.transactional])).toEqual([
      ['0001', 'applied', true],
      ['0002', 'applied', true],
    ]);
    const { rows } = await db.pool.query<{
      version: string;
      name: string;
      kind: string;
      checksum: string;
      execution_ms: number;
      applied_by: string;
      run_id: string;
    }>('select * from cutover.schema_migrations order by id');
    expect(rows.map((r) => [r.version, r.name, r.kind, r.applied_by, r.run_id])).toEqual([
      ['0001', 'create_users', 'versioned', 'tester', runId],
      ['0002', 'add_email', 'versioned', 'tester', runId],
    ]);
    for (const r of rows) {
      expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(r.execution_ms).toBeGreaterThanOrEqual(0);
    }
    const again = await migrator().up();
    expect(again).toEqual({ results: [] });
  });

  it('reports a failing statement at file:line:column with the server message and SQLSTATE, and leaves no trace of the migration', async () => {
    await files.write('0001_ok.sql', dbmate('create table a (id int);'));
    await files.write(
      '0002_broken.sql',
      dbmate('create table b (id int);\ninsert into b values (1);\nselect nosuch_column from b;'),
    );
    await files.write('0003_later.sql', dbmate('create table c (id int);'));
    const { results, error } = await migrator().up();
    expect(results.map((r) => r.status)).toEqual(['applied', 'failed', 'pending']);
    expect(error?.code).toBe('MIGRATION_FAILED');
    expect(error?.category).toBe('failed');
    // Line 4 of the file (after "-- migrate:up"), column 8: where "nosuch_column" starts.
    expect(error?.location).toMatch(/0002_broken\.sql:4:8$/);
    expect(error?.message).toContain('column "nosuch_column" does not exist');
    expect(error?.message).toContain('SQLSTATE 42703');
    expect(error?.details).toMatchObject({ sqlstate: '42703', statementIndex: 2 });
    expect(await tableExists('b')).toBe(false);
    expect(await tableExists('c')).toBe(false);
    expect((await history()).map((h) => h.version)).toEqual(['0001']);
  });

  it('maps error positions inside multi-line statements and after non-ASCII text', async () => {
    await files.write(
      '0001_multi.sql',
      dbmate(
        "-- création de la table «clients»\ncreate table clients (\n  id int,\n  nom text default 'é😀'\n);\ninsert into clients (id, nom)\n  values (1, 'x'), (2, undefined_fn());",
      ),
    );
    const { error } = await migrator().up();
    expect(error?.code).toBe('MIGRATION_FAILED');
    // undefined_fn is on line 8, column 24 (code points).
    expect(error?.location).toMatch(/0001_multi\.sql:8:24$/);
  });

  it('stops at --to and reports an unknown version as MIGRATION_VERSION_NOT_FOUND', async () => {
    for (const v of ['0001', '0002', '0003']) {
      await files.write(`${v}_t${v}.sql`, dbmate(`create table t${v} (id int);`));
    }
    const unknown = await migrator().up({ to: '0009' });
    expect(unknown.error?.code).toBe('MIGRATION_VERSION_NOT_FOUND');
    expect(unknown.error?.category).toBe('not_found');
    expect(await tableExists('t0001')).toBe(false);
    const partial = await migrator().up({ to: '2' });
    expect(partial.results.map((r) => r.version)).toEqual(['0001', '0002']);
    expect(await tableExists('t0003')).toBe(false);
  });

  it('absorbs an outer BEGIN/COMMIT written in the file and refuses other transaction control before running anything', async () => {
    await files.write('0001_wrapped.sql', dbmate('BEGIN;\ncreate table w (id int);\nCOMMIT;'));
    const first = await migrator().up();
    expect(first.error).toBeUndefined();
    expect(first.results[0]).toMatchObject({ status: 'applied', transactional: true });
    expect(first.results[0]?.nonTransactionalReason).toBeUndefined();
    expect(await tableExists('w')).toBe(true);
    await files.write('0002_first.sql', dbmate('create table x (id int);'));
    await files.write(
      '0003_commits.sql',
      dbmate('create table y (id int);\ncommit;\ncreate table z (id int);'),
    );
    const second = await migrator().up();
    expect(second.error?.code).toBe('MIGRATION_TRANSACTION_CONTROL');
    expect(second.error?.location).toMatch(/0003_commits\.sql:3:1$/);
    expect(second.results.map((r) => r.status)).toEqual(['pending', 'pending']);
    expect(await tableExists('x')).toBe(false);
  });

  it('gives TypeScript migrations the transaction client as db and rolls them back on failure', async () => {
    await files.write(
      '0001_seed.ts',
      `export async function up(db) {
  await db.query('create table seeds (n int)');
  const { rows } = await db.query("select current_setting('lock_timeout') as lt, txid_current_if_assigned() is not null as in_tx");
  await db.query('insert into seeds values ($1)', [rows[0].in_tx ? 1 : 0]);
  await db.query('create table lt_seen (v text)');
  await db.query('insert into lt_seen values ($1)', [rows[0].lt]);
}
export async function down(db) { await db.query('drop table seeds; drop table lt_seen'); }
`,
    );
    await files.write(
      '0002_fails.ts',
      `export async function up(db) {
  await db.query('create table never (n int)');
  throw new Error('boom in 0002');
}
`,
    );
    const { results, error } = await migrator({ lockTimeoutMs: 1500 }).up();
    expect(results.map((r) => r.status)).toEqual(['applied', 'failed']);
    expect(error?.code).toBe('MIGRATION_FAILED');
    expect(error?.message).toContain('boom in 0002');
    expect(error?.location).toMatch(/0002_fails\.ts$/);
    const seeds = await db.pool.query<{ n: number }>('select n from seeds');
    expect(seeds.rows).toEqual([{ n: 1 }]);
    const lt = await db.pool.query<{ v: string }>('select v from lt_seen');
    expect(lt.rows[0]?.v).toBe('1500ms');
    expect(await tableExists('never')).toBe(false);
    const down = await migrator().down({ to: null });
    expect(down.results.map((r) => [r.version, r.status])).toEqual([['0001', 'reverted']]);
    expect(await tableExists('seeds')).toBe(false);
  });

  it('re-applies a repeatable migration (Flyway R__) only when its checksum changes, after the versioned ones', async () => {
    await files.write('V1__items.sql', 'create table items (id int, price int);');
    await files.write(
      'R__items_view.sql',
      'create or replace view items_v as select id from items;',
    );
    const first = await migrator().up();
    expect(first.results.map((r) => [r.version, r.name, r.status])).toEqual([
      ['1', 'items', 'applied'],
      [undefined, 'items_view', 'applied'],
    ]);
    expect((await migrator().up()).results).toEqual([]);
    await files.write(
      'R__items_view.sql',
      'create or replace view items_v as select id, price from items;',
    );
    const status = await migrator().status();
    expect(status.migrations.find((e) => e.name === 'items_view')).toMatchObject({
      state: 'pending',
      changed: true,
    });
    const again = await migrator().up();
    expect(again.results.map((r) => [r.name, r.status])).toEqual([['items_view', 'applied']]);
    const cols = await db.pool.query(
      `select column_name from information_schema.columns where table_name = 'items_v'`,
    );
    expect(cols.rows).toHaveLength(2);
    const rows = await history();
    expect(rows.filter((r) => r.name === 'items_view')).toHaveLength(1);
  });

  it('works with a pool passed in and leaves that pool open', async () => {
    await files.write('0001_p.sql', dbmate('create table p (id int);'));
    const pool = new pg.Pool({ connectionString: db.url, max: 3 });
    try {
      const m = new Migrator({ pool, dir: files.dir });
      expect((await m.up()).error).toBeUndefined();
      await m.close();
      const { rows } = await pool.query('select 1 as one');
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('reports a database that is down as DATABASE_UNREACHABLE without throwing', async () => {
    await files.write('0001_p.sql', dbmate('create table p (id int);'));
    const m = migrator({ databaseUrl: 'postgres://u:secret@127.0.0.1:1/nothing' });
    const result = await m.up();
    expect(result.error?.code).toBe('DATABASE_UNREACHABLE');
    expect(result.error?.category).toBe('unavailable');
    expect(result.error?.message).not.toContain('secret');
  });

  it('reports a connection lost in the middle of a migration and leaves no trace of it', async () => {
    await files.write('0001_slow.sql', dbmate('create table slow (id int);\nselect pg_sleep(30);'));
    const m = migrator();
    const running = m.up();
    // Wait until the migration's statement runs, then kill its backend.
    for (;;) {
      const { rows } = await db.pool.query<{ pid: number }>(
        `select pid from pg_stat_activity where query like 'select pg_sleep(30)%' and datname = current_database()`,
      );
      if (rows[0] !== undefined) {
        await db.pool.query('select pg_terminate_backend($1)', [rows[0].pid]);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const result = await running;
    expect(result.error?.code).toBe('DATABASE_CONNECTION_LOST');
    expect(result.error?.category).toBe('unavailable');
    expect(result.error?.message).toContain('nothing of it was applied');
    expect(await tableExists('slow')).toBe(false);
    expect(await history()).toEqual([]);
  });

  it('emits progress events and says when a migration runs outside a transaction', async () => {
    await files.write('0001_t.sql', dbmate('create table t (id int);'));
    await files.write('0002_i.sql', dbmate('create index concurrently t_id on t (id);'));
    const events: MigrateEvent[] = [];
    await migrator({ onEvent: (e) => events.push(e) }).up();
    const starts = events.filter((e) => e.type === 'migration-start');
    expect(starts).toMatchObject([
      { version: '0001', transactional: true },
      { version: '0002', transactional: false },
    ]);
    expect(starts[1]).toHaveProperty(
      'nonTransactionalReason',
      expect.stringContaining('CONCURRENTLY'),
    );
  });
});

describe('Migrator.status and validate', () => {
  it('reports applied, pending, modified and missing migrations', async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await files.write('0002_b.sql', dbmate('create table b (id int);'));
    await files.write('0003_c.sql', dbmate('create table c (id int);'));
    await migrator().up({ to: '0002' });
    await files.write('0001_a.sql', dbmate('create table a (id bigint);'));
    await files.remove('0002_b.sql');
    const report = await migrator().status();
    expect(report.current).toBe('0002');
    expect(report.migrations.map((e) => [e.version, e.state])).toEqual([
      ['0001', 'modified'],
      ['0002', 'missing'],
      ['0003', 'pending'],
    ]);
    expect(report.migrations[0]?.appliedAt).toBeInstanceOf(Date);
  });

  it('validate reports modified and missing files and out-of-order pending migrations; allowOutOfOrder applies them', async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await files.write('0003_c.sql', dbmate('create table c (id int);'));
    await migrator().up();
    expect((await migrator().validate()).ok).toBe(true);

    await files.write('0002_b.sql', dbmate('create table b (id int);'));
    const report = await migrator().validate();
    expect(report.ok).toBe(false);
    expect(report.issues.map((i) => [i.kind, i.version])).toEqual([['out-of-order', '0002']]);
    expect(report.error?.code).toBe('MIGRATION_VALIDATION_FAILED');
    expect(report.error?.category).toBe('validation');
    const refused = await migrator().up();
    expect(refused.error?.code).toBe('MIGRATION_VALIDATION_FAILED');
    expect(await tableExists('b')).toBe(false);
    expect((await migrator({ allowOutOfOrder: true }).validate()).ok).toBe(true);
    const applied = await migrator({ allowOutOfOrder: true }).up();
    expect(applied.results.map((r) => [r.version, r.status])).toEqual([['0002', 'applied']]);

    await files.write('0001_a.sql', dbmate('create table a (id int); -- edited'));
    await files.remove('0003_c.sql');
    const broken = await migrator().validate();
    expect(broken.issues.map((i) => [i.kind, i.version])).toEqual([
      ['modified', '0001'],
      ['missing', '0003'],
    ]);
    expect(broken.error?.hint).toMatch(/restore/i);
  });

  it('is read-only: status, validate and dry run create no control schema', async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int);'));
    await migrator().status();
    await migrator().validate();
    await migrator().up({ dryRun: true });
    const { rows } = await db.pool.query(`select 1 from pg_namespace where nspname = 'cutover'`);
    expect(rows).toHaveLength(0);
  });
});

describe('Migrator.down', () => {
  beforeEach(async () => {
    await files.write('0001_a.sql', dbmate('create table a (id int);', 'drop table a;'));
    await files.write('0002_b.sql', dbmate('create table b (id int);', 'drop table b;'));
    await files.write('0003_c.sql', dbmate('create table c (id int);', 'drop table c;'));
  });

  it('reverts the newest migration by default, then down to a version, then everything', async () => {
    await migrator().up();
    const one = await migrator().down();
    expect(one.results.map((r) => [r.version, r.status])).toEqual([['0003', 'reverted']]);
    expect(await tableExists('c')).toBe(false);
    await migrator().up();
    const to = await migrator().down({ to: '0001' });
    expect(to.results.map((r) => r.version)).toEqual(['0003', '0002']);
    expect(await tableExists('a')).toBe(true);
    expect(await tableExists('b')).toBe(false);
    const all = await migrator().down({ to: null });
    expect(all.results.map((r) => r.version)).toEqual(['0001']);
    expect(await history()).toEqual([]);
  });

  it('reverts N steps and refuses more steps than are applied before doing anything', async () => {
    await migrator().up();
    const two = await migrator().down({ steps: 2 });
    expect(two.results.map((r) => r.version)).toEqual(['0003', '0002']);
    const tooMany = await migrator().down({ steps: 5 });
    expect(tooMany.error?.code).toBe('MIGRATION_STEPS_INVALID');
    expect(await tableExists('a')).toBe(true);
  });

  it('refuses before reverting anything when a migration to revert has no down section', async () => {
    await files.write('0004_d.sql', dbmate('create table d (id int);'));
    await migrator().up();
    await files.write('0003_c.sql', dbmate('create table c (id int);', 'drop table c;'));
    const result = await migrator().down({ to: '0001' });
    expect(result.error?.code).toBe('MIGRATION_DOWN_MISSING');
    expect(result.error?.category).toBe('config');
    expect(result.error?.location).toMatch(/0004_d\.sql$/);
    expect(result.error?.hint).toContain('-- migrate:down');
    expect(result.results).toEqual([]);
    for (const t of ['a', 'b', 'c', 'd']) expect(await tableExists(t)).toBe(true);
    expect(await history()).toHaveLength(4);
  });

  it('refuses to revert a migration whose file is gone', async () => {
    await migrator().up();
    await files.remove('0003_c.sql');
    const result = await migrator().down();
    expect(result.error?.code).toBe('MIGRATION_FILE_MISSING');
    expect(await tableExists('c')).toBe(true);
  });
});

describe('Migrator.up with non-transactional migrations', () => {
  it('drops the INVALID index left by a failed CREATE UNIQUE INDEX CONCURRENTLY and rebuilds it on retry', async () => {
    await files.write(
      '0001_users.sql',
      dbmate(
        "create table users (id int primary key, email text);\ninsert into users values (1, 'a@x'), (2, 'a@x');",
      ),
    );
    await files.write(
      '0002_email_key.sql',
      dbmate(
        'create unique index concurrently users_email_key on users (email);',
        'drop index concurrently users_email_key;',
      ),
    );
    const first = await migrator().up();
    expect(first.results.map((r) => r.status)).toEqual(['applied', 'failed']);
    expect(first.results[1]?.transactional).toBe(false);
    expect(first.error?.code).toBe('MIGRATION_FAILED');
    expect(first.error?.details).toMatchObject({ sqlstate: '23505' });
    const invalid = await db.pool.query<{ valid: boolean }>(
      `select indisvalid as valid from pg_index where indexrelid = 'users_email_key'::regclass`,
    );
    expect(invalid.rows).toEqual([{ valid: false }]);

    await db.pool.query(`update users set email = 'b@x' where id = 2`);
    const retry = await migrator().up();
    expect(retry.error).toBeUndefined();
    expect(retry.results[0]).toMatchObject({
      version: '0002',
      status: 'applied',
      droppedInvalidIndexes: ['public.users_email_key'],
    });
    const valid = await db.pool.query<{ valid: boolean }>(
      `select indisvalid as valid from pg_index where indexrelid = 'users_email_key'::regclass`,
    );
    expect(valid.rows).toEqual([{ valid: true }]);
    const down = await migrator().down();
    expect(down.results[0]).toMatchObject({ status: 'reverted', transactional: false });
    expect(await tableExists('users_email_key')).toBe(false);
  });

  it('resumes a failed non-transactional migration at the statement it stopped at', async () => {
    await files.write(
      '0001_steps.sql',
      dbmate(
        'create table log (step int);\ninsert into log values (1);\ninsert into log values (2);\ninsert into missing_table values (3);\ninsert into log values (4);',
        undefined,
        { transaction: false },
      ),
    );
    const first = await migrator().up();
    expect(first.error?.code).toBe('MIGRATION_FAILED');
    expect(first.error?.location).toMatch(/0001_steps\.sql:5:13$/);
    expect(first.error?.message).toContain('statements 1–3 of 5 stay applied');
    expect(first.error?.hint).toContain('resumes at statement 4');
    const status = await migrator().status();
    expect(status.migrations[0]).toMatchObject({
      state: 'pending',
      partial: { direction: 'up', statementsDone: 3 },
    });

    await db.pool.query('create table missing_table (step int)');
    const second = await migrator().up();
    expect(second.error).toBeUndefined();
    expect(second.results[0]).toMatchObject({ status: 'applied', resumedAtStatement: 3 });
    const log = await db.pool.query<{ step: number }>('select step from log order by step');
    expect(log.rows.map((r) => r.step)).toEqual([1, 2, 4]);
    const checkpoints = await db.pool.query('select * from cutover.migration_checkpoints');
    expect(checkpoints.rows).toEqual([]);
  });

  it('only records the migration when a run died after its last statement but before the history write', async () => {
    await files.write(
      '0001_idx.sql',
      dbmate('create table k (id int);\ncreate index concurrently k_id on k (id);'),
    );
    // What a crash right after the last statement leaves: its effects and a full checkpoint.
    await db.pool.query('create table k (id int)');
    await db.pool.query('create index concurrently k_id on k (id)');
    await migrator().status(); // read-only
    const [m] = await loadMigrations(files.dir);
    const statements = m?.up.type === 'sql' ? m.up.statements : [];
    await ensureControlSchema(db.pool);
    await db.pool.query(
      `insert into cutover.migration_checkpoints (migration_key, direction, name, statements_done, done_hash) values ('0001', 'up', 'idx', 2, $1)`,
      [hashStatements(statements, 2)],
    );
    const result = await migrator().up();
    expect(result.error).toBeUndefined();
    expect(result.results[0]).toMatchObject({ status: 'applied', resumedAtStatement: 2 });
    expect((await history()).map((h) => h.version)).toEqual(['0001']);
  });

  it('refuses to resume when statements that already ran were edited since', async () => {
    await files.write(
      '0001_steps.sql',
      dbmate('create table log2 (step int);\ninsert into nope values (1);', undefined, {
        transaction: false,
      }),
    );
    await migrator().up();
    await files.write(
      '0001_steps.sql',
      dbmate('create table log2 (step bigint);\ninsert into log2 values (1);', undefined, {
        transaction: false,
      }),
    );
    const result = await migrator().up();
    expect(result.error?.code).toBe('MIGRATION_CHECKPOINT_MISMATCH');
    expect(result.error?.category).toBe('refused');
    expect(result.error?.hint).toContain('cutover.migration_checkpoints');
  });
});

describe('Migrator.up dry run', () => {
  it('prints per pending migration its statements, transaction mode, lock, rewrite and estimated rows, and applies nothing', async () => {
    await db.pool.query('create table orders (id int primary key, total int)');
    await db.pool.query('insert into orders select g, g from generate_series(1, 5000) g');
    await db.pool.query('analyze orders');
    await files.write(
      '0001_orders.sql',
      dbmate(
        'alter table orders add column created_at timestamptz default clock_timestamp();\ncreate index orders_total on orders (total);',
      ),
    );
    await files.write(
      '0002_idx.sql',
      dbmate('create index concurrently orders_id2 on orders (id);'),
    );
    const { results, error } = await migrator().up({ dryRun: true });
    expect(error).toBeUndefined();
    expect(results.map((r) => [r.version, r.status, r.transactional])).toEqual([
      ['0001', 'dry-run', true],
      ['0002', 'dry-run', false],
    ]);
    const [add, index] = results[0]?.statements ?? [];
    expect(add).toMatchObject({ lock: 'ACCESS EXCLUSIVE', rewrites: true, tables: ['orders'] });
    expect(add?.tableEstimates).toEqual([{ table: 'orders', estimatedRows: 5000, exists: true }]);
    expect(add?.location).toMatch(/0001_orders\.sql:2:1$/);
    expect(index).toMatchObject({ lock: 'SHARE', rewrites: false });
    expect(results[1]?.statements?.[0]).toMatchObject({ lock: 'SHARE UPDATE EXCLUSIVE' });
    const cols = await db.pool.query(
      `select 1 from information_schema.columns where table_name = 'orders' and column_name = 'created_at'`,
    );
    expect(cols.rows).toHaveLength(0);
  });
});

describe('Migrator.baseline', () => {
  it('counts files at or below the baseline as applied and runs only the newer ones', async () => {
    await db.pool.query('create table legacy (id int)');
    await files.write('0001_legacy.sql', dbmate('create table legacy (id int);'));
    await files.write('0002_more.sql', dbmate('alter table legacy add column x int;'));
    await files.write('0003_new.sql', dbmate('create table fresh (id int);'));
    const result = await migrator().baseline('0002');
    expect(result.error).toBeUndefined();
    expect(result.covered.map((c) => c.version)).toEqual(['0001', '0002']);
    const status = await migrator().status();
    expect(status.migrations.map((e) => [e.version, e.state])).toEqual([
      ['0001', 'below-baseline'],
      ['0002', 'baseline'],
      ['0003', 'pending'],
    ]);
    const up = await migrator().up();
    expect(up.results.map((r) => r.version)).toEqual(['0003']);
    expect((await migrator().validate()).ok).toBe(true);
    const again = await migrator().baseline('0003');
    expect(again.error?.code).toBe('BASELINE_REFUSED');
    const bad = await migrator().baseline('v2');
    expect(bad.error?.code).toBe('MIGRATION_VERSION_INVALID');
  });
});
