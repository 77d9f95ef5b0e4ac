import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/run-cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

let db: TestDatabase;
let cwd: string;

beforeAll(async () => {
  db = await createTestDatabase('cli');
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'cutover-cli-'));
  await mkdir(join(cwd, 'migrations'));
  await db.pool.query(
    'drop schema if exists cutover cascade; drop schema public cascade; create schema public',
  );
  return () => rm(cwd, { recursive: true, force: true });
});

function write(name: string, text: string): Promise<void> {
  return writeFile(join(cwd, name), text);
}

function cli(...args: string[]): ReturnType<typeof runCli> {
  return runCli(args, { cwd, env: { DATABASE_URL: db.url } });
}

describe('cutover migrate (CLI)', () => {
  it('applies, shows status as a table, and reverts, with exit code 0', async () => {
    await write(
      'migrations/0001_users.sql',
      '-- migrate:up\ncreate table users (id int primary key);\n\n-- migrate:down\ndrop table users;\n',
    );
    await write(
      'migrations/0002_email.sql',
      '-- migrate:up\nalter table users add column email text;\n\n-- migrate:down\nalter table users drop column email;\n',
    );
    const up = await cli('migrate', 'up');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('Applying 0001 users');
    expect(up.stdout).toContain('2 migrations applied.');
    const status = await cli('migrate', 'status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Version\s*│\s*Name\s*│\s*State\s*│\s*Applied at\s*│\s*Duration/);
    expect(status.stdout).toMatch(/0002\s*│\s*email\s*│\s*applied/);
    const down = await cli('migrate', 'down', '--steps', '2', '--json');
    expect(down.code).toBe(0);
    const parsed = JSON.parse(down.stdout) as {
      ok: boolean;
      results: { version: string; status: string }[];
    };
    expect(parsed.ok).toBe(true);
    expect(parsed.results.map((r) => [r.version, r.status])).toEqual([
      ['0002', 'reverted'],
      ['0001', 'reverted'],
    ]);
  });

  it('reports a failing statement as one line with file:line:column and exits 1', async () => {
    await write(
      'migrations/0001_bad.sql',
      '-- migrate:up\ncreate table t (id int);\ninsert into t values (1, 2);\n',
    );
    const run = await cli('migrate', 'up');
    expect(run.code).toBe(1);
    const errors = run.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('error '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^error MIGRATION_FAILED: .*INSERT has more expressions than target columns.*SQLSTATE 42601.*\(at migrations\/0001_bad\.sql:3:26\)/,
    );
    const { rows } = await db.pool.query(`select to_regclass('t') as t`);
    expect(rows).toEqual([{ t: null }]);
  });

  it('prints the dry run: SQL, transaction mode, lock, rewrite and table size per statement', async () => {
    await db.pool.query(
      'create table big (id int primary key); insert into big select generate_series(1, 2000); analyze big',
    );
    await write(
      'migrations/0001_big.sql',
      '-- migrate:up\nalter table big add column token uuid default gen_random_uuid();\ncreate index concurrently big_token on big (token);\n',
    );
    const run = await cli('migrate', 'up', '--dry-run');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Dry run: 1 pending migration; nothing is applied.');
    expect(run.stdout).toContain('runs OUTSIDE a transaction');
    expect(run.stdout).toContain('alter table big add column token uuid default gen_random_uuid()');
    expect(run.stdout).toMatch(
      /lock: ACCESS EXCLUSIVE on big \(~2,000 rows\) · REWRITES the table/,
    );
    expect(run.stdout).toMatch(
      /lock: SHARE UPDATE EXCLUSIVE on big \(~2,000 rows\) · no table rewrite/,
    );
    const { rows } = await db.pool.query(
      `select 1 from information_schema.columns where table_name = 'big' and column_name = 'token'`,
    );
    expect(rows).toHaveLength(0);
  });

  it('exits 3 from validate when an applied file changed, with a JSON report', async () => {
    await write('migrations/0001_a.sql', '-- migrate:up\ncreate table a (id int);\n');
    expect((await cli('migrate', 'up')).code).toBe(0);
    await write('migrations/0001_a.sql', '-- migrate:up\ncreate table a (id bigint);\n');
    const text = await cli('migrate', 'validate');
    expect(text.code).toBe(3);
    expect(text.stdout).toContain('modified');
    expect(text.stderr).toMatch(/^error MIGRATION_VALIDATION_FAILED: /m);
    const json = await cli('migrate', 'validate', '--json');
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      issues: [{ kind: 'modified', version: '0001' }],
    });
  });

  it('refuses to go down without a down section before reverting anything (exit 2)', async () => {
    await write(
      'migrations/0001_a.sql',
      '-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n',
    );
    await write('migrations/0002_b.sql', '-- migrate:up\ncreate table b (id int);\n');
    expect((await cli('migrate', 'up')).code).toBe(0);
    const run = await cli('migrate', 'down', '--to', '0');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /error MIGRATION_DOWN_MISSING: Cannot revert 0002 b: it has no down migration; nothing was reverted\. \(at migrations\/0002_b\.sql\)/,
    );
    const { rows } = await db.pool.query(
      `select to_regclass('a') is not null as a, to_regclass('b') is not null as b`,
    );
    expect(rows).toEqual([{ a: true, b: true }]);
  });

  it('gives one clear line and exit 2 for an unknown flag, a bad URL, a bad duration, a malformed file and an unknown layout', async () => {
    const flag = await cli('migrate', 'up', '--bogus');
    expect(flag.code).toBe(2);
    expect(flag.stderr.trim()).toBe("error USAGE: unknown option '--bogus' (see --help)");

    const url = await runCli(['migrate', 'status', '--database-url', 'mysql://x/y'], { cwd });
    expect(url.code).toBe(2);
    expect(url.stderr).toMatch(/^error DATABASE_URL_INVALID: /);

    const duration = await cli('migrate', 'up', '--lock-timeout', 'soon');
    expect(duration.code).toBe(2);
    expect(duration.stderr).toContain('--lock-timeout "soon" is not a duration');

    await write('migrations/0001_bad.sql', '-- migrate:up\ncreate tabel x (id int);\n');
    const parse = await cli('migrate', 'up');
    expect(parse.code).toBe(2);
    expect(parse.stderr).toMatch(/error MIGRATION_PARSE_ERROR: .*0001_bad\.sql:2:8/);

    await rm(join(cwd, 'migrations/0001_bad.sql'));
    await write('migrations/create-users.sql', 'create table users (id int);\n');
    const layout = await cli('migrate', 'up');
    expect(layout.code).toBe(2);
    expect(layout.stderr).toMatch(/^error MIGRATION_LAYOUT_UNKNOWN: /);
    const { rows } = await db.pool.query(`select 1 from pg_namespace where nspname = 'cutover'`);
    expect(rows).toHaveLength(0);
  });

  it('exits 5 when the database is down', async () => {
    await write('migrations/0001_a.sql', '-- migrate:up\ncreate table a (id int);\n');
    const run = await runCli(
      ['migrate', 'up', '--database-url', 'postgres://u:pw@127.0.0.1:1/db'],
      { cwd },
    );
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(
      /^error DATABASE_UNREACHABLE: Cannot reach the database at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/,
    );
  });

  it('exits 5 with one line when the database goes away mid-run, and nothing of the migration stays', async () => {
    await write(
      'migrations/0001_gone.sql',
      '-- migrate:up\ncreate table gone (id int);\nselect pg_sleep(20);\n',
    );
    const run = startCli(['migrate', 'up'], { cwd, env: { DATABASE_URL: db.url } });
    for (;;) {
      const { rows } = await db.pool.query<{ pid: number }>(
        `select pid from pg_stat_activity where query like 'select pg_sleep(20)%' and datname = current_database()`,
      );
      if (rows[0] !== undefined) {
        await db.pool.query('select pg_terminate_backend($1)', [rows[0].pid]);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const done = await run.done;
    expect(done.code).toBe(5);
    const errors = done.stderr.split('\n').filter((l) => l.startsWith('error '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^error DATABASE_CONNECTION_LOST: The database connection was lost while applying 0001 gone/,
    );
    const { rows } = await db.pool.query(`select to_regclass('gone') as t`);
    expect(rows).toEqual([{ t: null }]);
  });

  it('lets only one of two concurrent processes apply; the other waits, then exits 4 naming the holder', async () => {
    await write(
      'migrations/0001_slow.sql',
      '-- migrate:up\ncreate table slow (id int);\nselect pg_sleep(4);\n',
    );
    const first = startCli(['migrate', 'up'], { cwd, env: { DATABASE_URL: db.url } });
    for (;;) {
      const { rows } = await db.pool.query(
        `select 1 from pg_stat_activity where query like 'select pg_sleep(4)%' and datname = current_database()`,
      );
      if (rows.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const second = await cli('migrate', 'up', '--lock-wait', '500ms');
    expect(second.code).toBe(4);
    expect(second.stderr).toContain('Waiting up to 0.5 s for the migration lock');
    expect(second.stderr).toMatch(
      /error LOCK_BUSY: Another migration is running on this database: the migration lock is held by pid \d+ \(application "cutover migrate", client 127\.0\.0\.1, user \w+, holding it since /,
    );
    const done = await first.done;
    expect(done.code).toBe(0);
    const { rows } = await db.pool.query('select version from cutover.schema_migrations');
    expect(rows).toEqual([{ version: '0001' }]);
  });

  it('reads database and migrations settings from cutover.yaml, ignoring the plan keys', async () => {
    await mkdir(join(cwd, 'db', 'changes'), { recursive: true });
    await write('db/changes/V1__a.sql', 'create table from_config (id int);\n');
    await write(
      'cutover.yaml',
      `name: dashboard-v2\ndatabase: \${MY_DB}\nmigrations:\n  dir: ./db/changes\n  lockTimeout: 3s\n  lockRetries: 2\nphases:\n  - name: prepare\n    steps: []\n`,
    );
    const run = await runCli(['migrate', 'up'], { cwd, env: { MY_DB: db.url } });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Applying 1 a');
    const missing = await runCli(['migrate', 'status'], { cwd, env: { MY_DB: undefined } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /error CONFIG_ENV_MISSING: database uses \$\{MY_DB\}.*\(at .*cutover\.yaml:2:11\)/,
    );
    await write('cutover.yaml', `migrations:\n  dir: ./db/changes\n  lockTimout: 3s\n`);
    const typo = await cli('migrate', 'status');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(
      /error CONFIG_INVALID: .*cutover\.yaml:2:3: migrations: Unrecognized key: "lockTimout"/,
    );
  });

  it('creates a migration file in the layout of the directory', async () => {
    await write('migrations/0007_existing.sql', '-- migrate:up\nselect 1;\n');
    const run = await cli('migrate', 'create', 'Add email to users', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      version: '0008',
      name: 'add_email_to_users',
      layout: 'native',
    });
    expect(await readdir(join(cwd, 'migrations'))).toContain('0008_add_email_to_users.sql');
    const flyway = await runCli(
      ['migrate', 'create', 'orders', '--dir', 'fw', '--layout', 'flyway'],
      { cwd },
    );
    expect(flyway.code).toBe(0);
    expect((await readdir(join(cwd, 'fw'))).sort()).toEqual(['U1__orders.sql', 'V1__orders.sql']);
  });

  it('baseline: needs a version or --adopt (exit 2), records the baseline, and --adopt reports a missing tool table (exit 6)', async () => {
    await write('migrations/0001_a.sql', '-- migrate:up\ncreate table a (id int);\n');
    await write('migrations/0002_b.sql', '-- migrate:up\ncreate table b (id int);\n');
    expect((await cli('migrate', 'baseline')).code).toBe(2);
    expect((await cli('migrate', 'baseline', '0001', '--adopt', 'prisma')).code).toBe(2);
    const adopt = await cli('migrate', 'baseline', '--adopt', 'flyway');
    expect(adopt.code).toBe(6);
    expect(adopt.stderr).toMatch(/^error ADOPT_SOURCE_NOT_FOUND: /);
    const base = await cli('migrate', 'baseline', '0001');
    expect(base.code).toBe(0);
    expect(base.stdout).toContain(
      'Baseline 0001 recorded: 1 migration file at or below it counts as applied',
    );
    const up = await cli('migrate', 'up');
    expect(up.stdout).toContain('Applying 0002 b');
    expect(up.stdout).not.toContain('Applying 0001');
  });
});

describe('embedded default', () => {
  it('with no database URL, starts the embedded PostgreSQL in .cutover/pg with one notice line, and the data persists across commands', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cutover-embedded-'));
    try {
      await mkdir(join(dir, 'migrations'));
      await writeFile(
        join(dir, 'migrations', '0001_notes.sql'),
        '-- migrate:up\ncreate table notes (id int);\n',
      );
      const up = await runCli(['migrate', 'up'], { cwd: dir });
      expect(up.code).toBe(0);
      expect(existsSync(join(dir, '.cutover', 'pg', 'PG_VERSION'))).toBe(true);
      const notices = up.stderr
        .trim()
        .split('\n')
        .filter((l) => l !== '');
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/^Using the embedded PostgreSQL in \.cutover\/pg on port \d+/);
      const status = await runCli(['migrate', 'status', '--json'], { cwd: dir });
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({
        migrations: [{ version: '0001', state: 'applied' }],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
