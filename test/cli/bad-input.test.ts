import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server/build-server.js';
import { createTokenStore } from '../../src/server/token-store.js';
import { ensureControlSchema } from '../../src/store/index.js';
import { runCli } from '../helpers/run-cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

// What a new user sees on bad input: one line (what, where, how to fix), the
// documented exit code, nothing half-applied; with --json, JSON on stdout only.

let db: TestDatabase;
let cwd: string;

beforeAll(async () => {
  db = await createTestDatabase('ux');
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'cutover-ux-'));
  await db.pool.query(
    'drop schema if exists cutover cascade; drop schema public cascade; create schema public',
  );
  return () => rm(cwd, { recursive: true, force: true });
});

function cli(
  args: string[],
  env: Record<string, string | undefined> = { DATABASE_URL: db.url },
): ReturnType<typeof runCli> {
  return runCli(args, { cwd, env });
}

/** The lines of stderr that are not the embedded-server notice. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '');
}

function withUrl(change: (url: URL) => void): string {
  const url = new URL(db.url);
  change(url);
  return url.toString();
}

describe('usage errors', () => {
  it('an unknown command is one line, with the suggestion on it, exit 2', async () => {
    const run = await cli(['statsu']);
    expect(run.code).toBe(2);
    expect(errorLines(run.stderr)).toEqual([
      "error USAGE: unknown command 'statsu' (Did you mean status?) (see --help)",
    ]);
    expect(run.stdout).toBe('');
  });

  it('with --json, an unknown flag is a JSON error document on stdout and nothing else there', async () => {
    const run = await cli(['migrate', 'up', '--bogus', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      ok: false,
      error: {
        code: 'USAGE',
        category: 'usage',
        message: "unknown option '--bogus'",
        hint: 'See --help.',
      },
    });
    expect(run.stderr).toBe('');
  });

  it('cutover --help ends with where the database comes from and the exit codes', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Database: --database-url, else DATABASE_URL');
    expect(run.stdout).toMatch(/Exit codes: 0 ok · 1 failed · 2 usage or config error/);
    expect(run.stdout).toContain('130 interrupted');
  });

  it('runs --limit must be a positive integer', async () => {
    for (const limit of ['banana', '-1', '0']) {
      const run = await cli(['runs', '--limit', limit]);
      expect([limit, run.code]).toEqual([limit, 2]);
      expect(errorLines(run.stderr)).toEqual([
        expect.stringMatching(/^error USAGE: --limit must be a positive integer \(got ".*"\)/),
      ]);
    }
  });
});

describe('database URLs and unreachable databases', () => {
  it('names the cause of a failed connection in the hint, exit 5 (refused, wrong password, missing database)', async () => {
    const cases: [string, RegExp][] = [
      [
        'postgres://someone@127.0.0.1:1/db',
        /Fix: Nothing accepts connections on 127\.0\.0\.1:1: start PostgreSQL there/,
      ],
      [
        withUrl((u) => (u.password = 'wrong-password')),
        /password authentication failed.*Fix: Check the user name and password in the URL/,
      ],
      [
        withUrl((u) => (u.pathname = '/no_such_database')),
        /database "no_such_database" does not exist.*Fix: Create the database first \(e\.g\. `createdb no_such_database`\)/,
      ],
    ];
    for (const [url, expected] of cases) {
      const run = await cli(['runs', '--database-url', url]);
      expect([url, run.code]).toEqual([url, 5]);
      const lines = errorLines(run.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error DATABASE_UNREACHABLE: /);
      expect(lines[0]).toMatch(expected);
      expect(lines[0]).not.toContain('wrong-password');
    }
  });

  it('rejects a port out of range and an unencoded "#" in the password, without printing the password (exit 2)', async () => {
    const port = await cli(['runs', '--database-url', 'postgres://u:pw@127.0.0.1:99999/db']);
    expect(port.code).toBe(2);
    expect(errorLines(port.stderr)).toEqual([
      expect.stringMatching(
        /^error DATABASE_URL_INVALID: The --database-url is invalid: its port 99999 is out of range/,
      ),
    ]);
    // "p@ss#word" parses with the rest of the password as a URL fragment …
    const hash = await cli(['runs', '--database-url', 'postgres://u:p@ss#word@127.0.0.1:5432/db']);
    expect(hash.code).toBe(2);
    expect(errorLines(hash.stderr)).toEqual([
      expect.stringMatching(/^error DATABASE_URL_INVALID: .*contains "#".*%23/),
    ]);
    expect(hash.stderr).not.toContain('ss#word');
    // … "se#cret" does not parse at all.
    const broken = await cli(['runs', '--database-url', 'postgres://u:se#cret@127.0.0.1:5432/db']);
    expect(broken.code).toBe(2);
    expect(errorLines(broken.stderr)).toEqual([
      expect.stringMatching(/^error DATABASE_URL_INVALID: .*must be percent-encoded/),
    ]);
    expect(broken.stderr).not.toContain('cret');
  });

  it('sslmode=require against a server without SSL: a one-line warning and a hint to drop sslmode', async () => {
    const ssl = (await db.pool.query<{ ssl: string }>('show ssl')).rows[0]?.ssl;
    const run = await cli([
      'runs',
      '--database-url',
      withUrl((u) => u.searchParams.set('sslmode', 'require')),
    ]);
    const lines = errorLines(run.stderr);
    // node-postgres' multi-line security notice is condensed to one line.
    expect(lines.filter((l) => l.startsWith('warning: '))).toEqual([
      expect.stringContaining('SECURITY WARNING'),
    ]);
    expect(run.stderr).not.toContain('To prepare for this change');
    if (ssl === 'off') {
      expect(run.code).toBe(5);
      expect(lines.filter((l) => l.startsWith('error '))).toEqual([
        expect.stringMatching(
          /^error DATABASE_UNREACHABLE: .*does not support SSL.*Fix: The server does not accept SSL connections: remove sslmode/,
        ),
      ]);
    }
  });
});

describe('migrate', () => {
  it('a dry run of a file that does not parse reports the error only, not "nothing to apply"', async () => {
    await mkdir(join(cwd, 'migrations'));
    await writeFile(
      join(cwd, 'migrations', '0001_bad.sql'),
      '-- migrate:up\ncreate tabel x (id int);\n',
    );
    const run = await cli(['migrate', 'up', '--dry-run']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(errorLines(run.stderr)).toEqual([
      expect.stringMatching(/^error MIGRATION_PARSE_ERROR: .*0001_bad\.sql:2:8/),
    ]);
  });

  it('a config file that is not valid YAML is reported with its line and column', async () => {
    await writeFile(
      join(cwd, 'cutover.yaml'),
      'migrations: ./db\n# the long form\nmigrations:\n  dir: ./db\n',
    );
    const run = await cli(['migrate', 'status']);
    expect(run.code).toBe(2);
    expect(errorLines(run.stderr)).toEqual([
      expect.stringMatching(
        /^error CONFIG_INVALID: .*cutover\.yaml is not valid YAML: Map keys must be unique\. \(at .*cutover\.yaml:3:1\)/,
      ),
    ]);
  });

  it('a missing migrations directory points at --dir', async () => {
    const run = await cli(['migrate', 'status']);
    expect(run.code).toBe(2);
    expect(errorLines(run.stderr)).toEqual([
      expect.stringMatching(/^error MIGRATIONS_DIR_NOT_FOUND: .*`--dir` of `cutover migrate`/),
    ]);
  });

  it('the first migration created in an empty directory is 0001, so `down --to 0` reverts it', async () => {
    const created = await cli(['migrate', 'create', 'users', '--json']);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ version: '0001', name: 'users' });
    expect(await readdir(join(cwd, 'migrations'))).toEqual(['0001_users.sql']);
    await writeFile(
      join(cwd, 'migrations', '0001_users.sql'),
      '-- migrate:up\ncreate table users (id int);\n-- migrate:down\ndrop table users;\n',
    );
    expect((await cli(['migrate', 'up'])).code).toBe(0);
    const down = await cli(['migrate', 'down', '--to', '0']);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('1 migration reverted.');
    const tables = await db.pool.query(`select 1 from pg_tables where tablename = 'users'`);
    expect(tables.rowCount).toBe(0);
  });
});

describe('plans', () => {
  it('a TypeScript plan module that does not compile is one error line', async () => {
    await writeFile(join(cwd, 'cutover.ts'), 'export default {{\n');
    const run = await cli(['plan', 'cutover.ts']);
    expect(run.code).toBe(2);
    expect(errorLines(run.stderr)).toEqual([
      expect.stringMatching(
        /^error PLAN_MODULE_FAILED: Cannot load plan module cutover\.ts: .*Expected identifier but found "\{"/,
      ),
    ]);
  });
});

describe('migrate down --to', () => {
  it('an unknown version is MIGRATION_VERSION_NOT_FOUND (exit 6), as for up, and nothing is reverted', async () => {
    await mkdir(join(cwd, 'migrations'));
    await writeFile(
      join(cwd, 'migrations', '0001_a.sql'),
      '-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n',
    );
    expect((await cli(['migrate', 'up'])).code).toBe(0);
    for (const args of [
      ['migrate', 'up', '--to', '9999'],
      ['migrate', 'down', '--to', '9999'],
    ]) {
      const run = await cli(args);
      expect([args.join(' '), run.code]).toEqual([args.join(' '), 6]);
      expect(errorLines(run.stderr)).toEqual([
        expect.stringMatching(
          /^error MIGRATION_VERSION_NOT_FOUND: No migration has version "9999"/,
        ),
      ]);
    }
    expect((await db.pool.query(`select 1 from pg_tables where tablename = 'a'`)).rowCount).toBe(1);
    const all = await cli(['migrate', 'down', '--to', '0']);
    expect(all.code).toBe(0);
    expect((await db.pool.query(`select 1 from pg_tables where tablename = 'a'`)).rowCount).toBe(0);
  });
});

describe('output piped to a file', () => {
  it('tables carry no ANSI colour codes when stdout is not a terminal', async () => {
    const env = { DATABASE_URL: db.url, NO_COLOR: undefined, FORCE_COLOR: undefined };
    expect((await cli(['flags', 'create', 'piped', '--env', 'production'], env)).code).toBe(0);
    expect((await cli(['tokens', 'create', '--name', 'ops', '--type', 'admin'], env)).code).toBe(0);
    for (const args of [
      ['flags', 'list'],
      ['flags', 'history', 'piped'],
      ['tokens', 'list'],
      ['snapshot', 'list'],
    ]) {
      const run = await cli(args, env);
      expect([args.join(' '), run.code]).toEqual([args.join(' '), 0]);
      expect(run.stdout).not.toContain('\u001b[');
    }
  });
});

describe('run commands', () => {
  it('rollback without a terminal and without --yes refuses (CONFIRMATION_REQUIRED, exit 2) and changes nothing', async () => {
    await writeFile(
      join(cwd, 'cutover.yaml'),
      `name: ux-rollback
phases:
  - name: p
    steps:
      - sql: { up: "create table ux_t (id int)", down: "drop table ux_t" }
`,
    );
    expect((await cli(['run', '--yes'])).code).toBe(0);
    const refused = await cli(['rollback']);
    expect(refused.code).toBe(2);
    expect(errorLines(refused.stderr)).toEqual([
      expect.stringMatching(
        /^error CONFIRMATION_REQUIRED: Roll back run [0-9a-f]{8} of plan ux-rollback \(development, completed\).*Fix: Add --yes to confirm\./,
      ),
    ]);
    const json = await cli(['rollback', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      error: { code: 'CONFIRMATION_REQUIRED' },
    });
    const status = await db.pool.query<{ status: string }>(
      `select status from cutover.runs where plan_name = 'ux-rollback'`,
    );
    expect(status.rows).toEqual([{ status: 'completed' }]);
    expect((await db.pool.query(`select 1 from pg_tables where tablename = 'ux_t'`)).rowCount).toBe(
      1,
    );
    const done = await cli(['rollback', '--yes']);
    expect(done.code).toBe(0);
    expect((await db.pool.query(`select 1 from pg_tables where tablename = 'ux_t'`)).rowCount).toBe(
      0,
    );
  });
});

describe('a failing step', () => {
  it('is reported as one error line (what, where, Fix) and a backfill throwing a non-Error shows its value, not [object Object]', async () => {
    await db.pool.query('create table bt (id int primary key); insert into bt values (1), (2)');
    await mkdir(join(cwd, 'bf'));
    await writeFile(
      join(cwd, 'bf', 'throws.ts'),
      "export default { table: 'bt', key: 'id', async transform() { throw { reason: 'bad row' }; } };\n",
    );
    await writeFile(
      join(cwd, 'pause.yaml'),
      'name: ux-pause\nonFailure: pause\nphases:\n  - name: p\n    steps:\n      - backfill: { module: ./bf/throws.ts }\n',
    );
    const paused = await cli(['run', 'pause.yaml', '--yes']);
    expect(paused.code).toBe(1);
    expect(errorLines(paused.stderr)).toEqual([
      expect.stringMatching(
        /^error BACKFILL_FAILED: Backfill of public\.bt failed in the first batch: \{"reason":"bad row"\}; .* \(at pause\.yaml:6:9, step p\.0\) Fix: Fix the cause and resume/,
      ),
    ]);
    expect(paused.stdout).not.toContain('[object Object]');
    expect(paused.stdout).toContain('Retry with: cutover resume');

    await writeFile(
      join(cwd, 'rollback.yaml'),
      'name: ux-rolled\nphases:\n  - name: p\n    steps:\n      - sql: { up: "select 1/0", down: "select 1" }\n',
    );
    const rolled = await cli(['run', 'rollback.yaml', '--yes']);
    expect(rolled.code).toBe(1);
    expect(rolled.stdout).toContain('rolled back after a failure');
    expect(errorLines(rolled.stderr)).toEqual([
      expect.stringMatching(/^error \w+: .*division by zero/),
    ]);
  });
});

describe('flags --env', () => {
  it('a kill switch or rollout for an environment the flag does not define is refused (a typo would leave production on)', async () => {
    expect(
      (
        await cli([
          'flags',
          'create',
          'typo-flag',
          '--env',
          'production',
          '--rollout',
          '5',
          '--tag',
          'category=migration',
        ])
      ).code,
    ).toBe(0);
    for (const args of [
      ['flags', 'disable', 'typo-flag', '--env', 'prodution'],
      ['flags', 'enable', 'typo-flag', '--env', 'prodution'],
      ['flags', 'set', 'typo-flag', '--rollout', '50', '--env', 'prodution'],
    ]) {
      const run = await cli(args);
      expect([args.join(' '), run.code]).toEqual([args.join(' '), 6]);
      expect(errorLines(run.stderr)).toEqual([
        'error FLAG_ENVIRONMENT_UNKNOWN: Flag "typo-flag" has no environment "prodution" (defined: production); nothing was changed. (at --env) Fix: Check the --env spelling. To add an environment, give the whole definition: cutover flags set <key> --file flag.json.',
      ]);
    }
    const all = await cli(['flags', 'disable-all', '--tag', 'category=migration', '--env', 'prod']);
    expect(all.code).toBe(6);
    expect(errorLines(all.stderr)).toEqual([
      expect.stringMatching(
        /^error FLAG_ENVIRONMENT_UNKNOWN: No flag with the tag category=migration has the environment "prod" \(defined: production\); nothing was changed\./,
      ),
    ]);
    const get = await cli(['flags', 'get', 'typo-flag', '--json']);
    expect(JSON.parse(get.stdout)).toMatchObject({
      version: 1,
      flag: { environments: { production: { enabled: true } } },
    });
    expect(
      Object.keys((JSON.parse(get.stdout) as { flag: { environments: object } }).flag.environments),
    ).toEqual(['production']);
    expect((await cli(['flags', 'disable', 'typo-flag', '--env', 'production'])).code).toBe(0);
  });
});

describe('flag server messages', () => {
  it('says "an admin token" when an admin token is used on the client API (403)', async () => {
    await ensureControlSchema(db.pool);
    const { token } = await createTokenStore(db.pool).create(
      { name: 'ux-admin', type: 'admin' },
      { actor: 'test' },
    );
    const app = await buildServer({ databaseUrl: db.url });
    try {
      const res = await app.inject({
        url: '/api/client/features',
        headers: { authorization: token },
      });
      expect(res.statusCode).toBe(403);
      expect(res.json<{ error: { message: string } }>().error.message).toBe(
        'An admin token (ux-admin) cannot use the client API.',
      );
    } finally {
      await app.close();
    }
  });
});
