import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { isCutoverError, type CutoverError } from '../errors/index.js';
import { checksumOf } from './checksum.js';
import { detectLayout, detectLayouts, loadMigrations } from './load-migrations.js';
import type { Migration, MigrationLayout, SqlScript } from './migration.js';

const roots: string[] = [];
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

/** Writes `files` (relative path → content) into a fresh temporary directory. */
async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-mig-'));
  roots.push(dir);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

async function failure(promise: Promise<unknown>): Promise<CutoverError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCutoverError(error)) throw new Error(`expected a CutoverError, got ${String(error)}`);
  return error;
}

function sql(script: Migration['up'] | undefined): SqlScript {
  if (script?.type !== 'sql') throw new Error('expected a SQL script');
  return script;
}

const summary = (ms: Migration[]): [string | undefined, string, Migration['kind']][] =>
  ms.map((m) => [m.version, m.name, m.kind]);

describe('native (dbmate) layout', () => {
  it('reads up and down sections, sorted by numeric version', async () => {
    const dir = await tree({
      '10_add_email.sql':
        '-- migrate:up\nalter table users add column email text;\n-- migrate:down\nalter table users drop column email;\n',
      '9_create_users.sql':
        '-- a comment before the marker is fine\n\n-- migrate:up\ncreate table users (id int);\n\n-- migrate:down\ndrop table users;\n',
      'README.md': '# migrations',
      '.gitkeep': '',
    });
    const migrations = await loadMigrations(dir);
    expect(summary(migrations)).toEqual([
      ['9', 'create_users', 'versioned'],
      ['10', 'add_email', 'versioned'],
    ]);
    const [first] = migrations;
    expect(first?.layout).toBe('native');
    expect(first?.files).toEqual([join(dir, '9_create_users.sql')]);
    expect(sql(first?.up).statements).toMatchObject([
      { sql: 'create table users (id int)', line: 4, column: 1 },
    ]);
    expect(sql(first?.down).statements).toMatchObject([{ sql: 'drop table users', line: 7 }]);
    expect(sql(first?.up).transactional).toBe(true);
    expect(first?.checksum).toBe(checksumOf(sql(first?.up).fileText));
  });

  it('honours dbmate transaction:false on the up or down marker', async () => {
    const dir = await tree({
      '0001_idx.sql':
        '-- migrate:up transaction:false\ncreate index i on t (a);\n-- migrate:down\ndrop index i;\n',
    });
    const [m] = await loadMigrations(dir);
    expect(sql(m?.up).transactional).toBe(false);
    expect(sql(m?.up).nonTransactionalReason).toContain('transaction:false');
    expect(sql(m?.down).transactional).toBe(true);
  });

  it('makes a script with CREATE INDEX CONCURRENTLY non-transactional and says which line', async () => {
    const dir = await tree({
      '0001_idx.sql': '-- migrate:up\nselect 1;\ncreate index concurrently i on t (a);\n',
    });
    const [m] = await loadMigrations(dir);
    expect(sql(m?.up).transactional).toBe(false);
    expect(sql(m?.up).nonTransactionalReason).toBe(
      'CREATE INDEX CONCURRENTLY cannot run inside a transaction block (line 3)',
    );
  });

  it('gives down undefined when the down section is missing or empty', async () => {
    const dir = await tree({
      '0001_a.sql': '-- migrate:up\ncreate table a (id int);\n',
      '0002_b.sql':
        '-- migrate:up\ncreate table b (id int);\n-- migrate:down\n-- nothing to undo\n',
    });
    const migrations = await loadMigrations(dir);
    expect(migrations.map((m) => m.down)).toEqual([undefined, undefined]);
  });

  it.each([
    ['no up marker', 'create table a (id int);\n', ':1:1', 'no `-- migrate:up` line'],
    [
      'a statement before the up marker',
      'select 1;\n-- migrate:up\nselect 2;\n',
      ':1:1',
      'before the `-- migrate:up` line',
    ],
    [
      'down before up',
      '-- migrate:down\nselect 1;\n-- migrate:up\nselect 2;\n',
      ':1:1',
      'comes before',
    ],
    ['two up markers', '-- migrate:up\nselect 1;\n-- migrate:up\nselect 2;\n', ':3:1', 'a second'],
    [
      'an unknown marker option',
      '-- migrate:up transactions:false\nselect 1;\n',
      ':1:1',
      'unknown option',
    ],
    [
      'a SQL syntax error',
      '-- migrate:up\nselect 1;\n-- migrate:down\ndrop tabel a;\n',
      ':4:6',
      'syntax error',
    ],
  ])(
    'rejects %s with MIGRATION_PARSE_ERROR at file:line:col',
    async (_what, content, at, message) => {
      const dir = await tree({ '0001_x.sql': content });
      const error = await failure(loadMigrations(dir));
      expect(error.code).toBe('MIGRATION_PARSE_ERROR');
      expect(error.category).toBe('config');
      expect(error.location).toBe(`${join(dir, '0001_x.sql')}${at}`);
      expect(error.message).toContain(message);
      expect(error.hint).toBeTruthy();
    },
  );

  it('rejects two files with one version, naming both', async () => {
    const dir = await tree({
      '0001_a.sql': '-- migrate:up\nselect 1;\n',
      '1_b.sql': '-- migrate:up\nselect 2;\n',
    });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_DUPLICATE_VERSION');
    expect(error.message).toContain(join(dir, '0001_a.sql'));
    expect(error.message).toContain(join(dir, '1_b.sql'));
  });

  it('parses the sections separately when the last up statement has no semicolon', async () => {
    const dir = await tree({
      '0001_a.sql': '-- migrate:up\nselect 1\n-- migrate:down\nselect 2\n',
    });
    const [m] = await loadMigrations(dir);
    expect(sql(m?.up).statements.map((st) => st.sql)).toEqual(['select 1']);
    expect(sql(m?.down).statements).toMatchObject([{ sql: 'select 2', line: 4 }]);
    // Valid only when read across the marker: each section must stand alone, as in dbmate.
    const across = await tree({
      '0001_b.sql': '-- migrate:up\nselect 1\n-- migrate:down\nunion select 2;\n',
    });
    const error = await failure(loadMigrations(across));
    expect(error.location).toBe(`${join(across, '0001_b.sql')}:4:1`);
  });

  it('ignores a byte-order mark at the start of a file', async () => {
    const dir = await tree({
      '0001_bom.sql': '\ufeff-- migrate:up\nselect 1;\n',
      '0002_bom.sql': '-- migrate:up\n-- migrate:down\n',
    });
    const [m] = await loadMigrations(dir);
    expect(sql(m?.up).statements).toMatchObject([{ sql: 'select 1', line: 2, column: 1 }]);
    const golang = await tree({ '1_a.up.sql': '\ufeffselect 1;' });
    const [g] = await loadMigrations(golang);
    expect(sql(g?.up).statements).toMatchObject([
      { sql: 'select 1', offset: 1, line: 1, column: 2 },
    ]);
  });

  it('reads CRLF files with non-ASCII text', async () => {
    const dir = await tree({
      '0001_é.sql':
        "-- migrate:up\r\ninsert into t values ('café 😀');\r\n\r\n-- migrate:down\r\ndelete from t;\r\n",
    });
    const [m] = await loadMigrations(dir);
    expect(m?.name).toBe('é');
    expect(sql(m?.up).statements).toMatchObject([
      { sql: "insert into t values ('café 😀')", line: 2 },
    ]);
    expect(sql(m?.down).statements).toMatchObject([{ sql: 'delete from t', line: 5 }]);
  });
});

describe('golang-migrate layout', () => {
  it('pairs N_name.up.sql with N_name.down.sql; a missing down is undefined', async () => {
    const dir = await tree({
      '1_create_users.up.sql': 'create table users (id int);',
      '1_create_users.down.sql': 'drop table users;',
      '2_add_index.up.sql': 'create index concurrently users_id on users (id);',
    });
    const migrations = await loadMigrations(dir);
    expect(summary(migrations)).toEqual([
      ['1', 'create_users', 'versioned'],
      ['2', 'add_index', 'versioned'],
    ]);
    expect(migrations[0]?.layout).toBe('golang-migrate');
    expect(migrations[0]?.files).toEqual([
      join(dir, '1_create_users.up.sql'),
      join(dir, '1_create_users.down.sql'),
    ]);
    expect(sql(migrations[0]?.down).statements.map((s) => s.sql)).toEqual(['drop table users']);
    expect(migrations[1]?.down).toBeUndefined();
    expect(sql(migrations[1]?.up).transactional).toBe(false);
  });

  it('rejects a down file without its up file', async () => {
    const dir = await tree({
      '1_a.up.sql': 'select 1;',
      '2_b.down.sql': 'select 2;',
    });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_FILE_UNRECOGNIZED');
    expect(error.location).toBe(join(dir, '2_b.down.sql'));
  });

  it('rejects two up files with one version, naming both', async () => {
    const dir = await tree({ '1_a.up.sql': 'select 1;', '01_b.up.sql': 'select 2;' });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_DUPLICATE_VERSION');
    expect(error.message).toContain('01_b.up.sql');
    expect(error.message).toContain('1_a.up.sql');
  });
});

describe('Flyway layout', () => {
  it('orders versions numerically (1.10 after 1.9), undo files as downs, repeatables last by name', async () => {
    const dir = await tree({
      'V1__init.sql': 'create table a (id int);',
      'V1.10__ten.sql': 'select 10;',
      'V1.9__nine.sql': 'select 9;',
      'V1_2__two.sql': 'select 2;',
      'V2__two_point_oh.sql': 'select 20;',
      'U1.9__nine.sql': 'select -9;',
      'R__views.sql': 'create or replace view v as select 1;',
      'R__functions.sql': 'select 0;',
      'V1.9__nine.sql.conf': 'executeInTransaction=true',
    });
    const migrations = await loadMigrations(dir);
    expect(summary(migrations)).toEqual([
      ['1', 'init', 'versioned'],
      ['1.2', 'two', 'versioned'],
      ['1.9', 'nine', 'versioned'],
      ['1.10', 'ten', 'versioned'],
      ['2', 'two_point_oh', 'versioned'],
      [undefined, 'functions', 'repeatable'],
      [undefined, 'views', 'repeatable'],
    ]);
    const nine = migrations[2];
    expect(sql(nine?.down).statements.map((s) => s.sql)).toEqual(['select -9']);
    expect(nine?.files).toEqual([join(dir, 'V1.9__nine.sql'), join(dir, 'U1.9__nine.sql')]);
    expect(migrations[0]?.down).toBeUndefined();
  });

  it('treats 2_1 and 2.1 as the same version (a duplicate naming both files)', async () => {
    const dir = await tree({ 'V2_1__a.sql': 'select 1;', 'V2.1__b.sql': 'select 2;' });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_DUPLICATE_VERSION');
    expect(error.message).toContain('V2_1__a.sql');
    expect(error.message).toContain('V2.1__b.sql');
  });

  it('rejects a non-numeric version', async () => {
    const dir = await tree({ 'V1a__x.sql': 'select 1;' });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_PARSE_ERROR');
    expect(error.message).toContain('invalid Flyway version `1a`');
  });

  it('rejects an undo file without its versioned file', async () => {
    const dir = await tree({ 'V1__a.sql': 'select 1;', 'U2__b.sql': 'select 2;' });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_FILE_UNRECOGNIZED');
    expect(error.location).toBe(join(dir, 'U2__b.sql'));
  });
});

describe('Prisma layout', () => {
  it('reads <timestamp>_<name>/migration.sql with an optional down.sql and ignores migration_lock.toml', async () => {
    const dir = await tree({
      'migration_lock.toml': 'provider = "postgresql"',
      '20240102000000_add_email/migration.sql': 'ALTER TABLE "User" ADD COLUMN "email" TEXT;',
      '20240101000000_init/migration.sql':
        '-- CreateTable\nCREATE TABLE "User" ("id" SERIAL PRIMARY KEY);',
      '20240101000000_init/down.sql': 'DROP TABLE "User";',
    });
    const migrations = await loadMigrations(dir);
    expect(summary(migrations)).toEqual([
      ['20240101000000', 'init', 'versioned'],
      ['20240102000000', 'add_email', 'versioned'],
    ]);
    expect(migrations[0]?.layout).toBe('prisma');
    expect(sql(migrations[0]?.up).statements).toMatchObject([{ line: 2, column: 1 }]);
    expect(sql(migrations[0]?.down).statements.map((s) => s.sql)).toEqual(['DROP TABLE "User"']);
    expect(migrations[1]?.down).toBeUndefined();
  });

  it('rejects a migration directory without migration.sql', async () => {
    const dir = await tree({
      '20240101000000_init/migration.sql': 'select 1;',
      '20240102000000_broken/down.sql': 'select 2;',
    });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_FILE_UNRECOGNIZED');
    expect(error.location).toBe(join(dir, '20240102000000_broken'));
  });
});

describe('TypeScript layout', () => {
  const up = `export async function up(db: { query(sql: string): Promise<unknown> }): Promise<void> {
  await db.query('create table t (id int)');
}
`;
  it('loads NNNN_name.ts modules with up/down and the transaction flag (via tsx)', async () => {
    const dir = await tree({
      '0001_create.ts': `${up}export async function down(db: { query(sql: string): Promise<unknown> }): Promise<void> {
  await db.query('drop table t');
}
`,
      '0002_index.ts': `export const transaction = false;
${up}`,
      '_helpers.ts': 'export const x: number = 1;',
      'types.d.ts': 'export type X = 1;',
    });
    const migrations = await loadMigrations(dir);
    expect(summary(migrations)).toEqual([
      ['0001', 'create', 'versioned'],
      ['0002', 'index', 'versioned'],
    ]);
    expect(migrations[0]?.up).toEqual({
      type: 'typescript',
      file: join(dir, '0001_create.ts'),
      exportName: 'up',
      transactional: true,
    });
    expect(migrations[0]?.down).toMatchObject({ type: 'typescript', exportName: 'down' });
    expect(migrations[1]?.down).toBeUndefined();
    expect(migrations[1]?.up).toMatchObject({
      transactional: false,
      nonTransactionalReason: expect.stringContaining('transaction = false') as unknown,
    });
    expect(migrations[0]?.layout).toBe('typescript');
  });

  it('rejects a module without an up function', async () => {
    const dir = await tree({ '0001_bad.ts': 'export const down = 1;\n' });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_PARSE_ERROR');
    expect(error.message).toContain('does not export a function `up(db)`');
  });

  it('rejects a non-boolean transaction export', async () => {
    const dir = await tree({ '0001_bad.ts': `${up}export const transaction = 'no';\n` });
    const error = await failure(loadMigrations(dir));
    expect(error.message).toContain('not a boolean');
  });

  it('reports a module that does not compile at file:line:col', async () => {
    const dir = await tree({ '0001_bad.ts': 'export async function up() {\n  const x = ;\n}\n' });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_PARSE_ERROR');
    expect(error.location).toBe(`${join(dir, '0001_bad.ts')}:2:13`);
    expect(error.message).toContain('Unexpected ";"');
  });
});

describe('layout detection', () => {
  it.each<[string[], MigrationLayout | undefined]>([
    [['0001_init.sql', 'README.md'], 'native'],
    [['1_init.up.sql', '1_init.down.sql'], 'golang-migrate'],
    [['V1__init.sql', 'R__views.sql'], 'flyway'],
    [['R__views.sql'], 'flyway'],
    [['20240101000000_init/migration.sql', 'migration_lock.toml'], 'prisma'],
    [['0001_init.ts', '_util.ts', 'x.d.ts'], 'typescript'],
    [['0001_init.sql', 'V2__b.sql'], undefined],
    [['create_users.sql'], undefined],
    [[], undefined],
  ])('%j → %s', (names, layout) => {
    expect(detectLayout(names)).toBe(layout);
  });

  it('lists every layout present', () => {
    expect(detectLayouts(['0001_a.sql', 'V2__b.sql', '3_c.up.sql'])).toEqual([
      'native',
      'golang-migrate',
      'flyway',
    ]);
  });

  it('rejects a directory that mixes layouts', async () => {
    const dir = await tree({
      '0001_a.sql': '-- migrate:up\nselect 1;\n',
      'V2__b.sql': 'select 2;',
    });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_LAYOUT_AMBIGUOUS');
    expect(error.category).toBe('config');
    expect(error.message).toContain('native (0001_a.sql)');
    expect(error.message).toContain('flyway (V2__b.sql)');
  });

  it('rejects an unknown layout, listing the files found and the supported patterns', async () => {
    const dir = await tree({ 'create_users.sql': 'select 1;', 'notes.txt': '' });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_LAYOUT_UNKNOWN');
    expect(error.category).toBe('config');
    expect(error.message).toContain('create_users.sql');
    expect(error.message).toContain('V<version>__<name>.sql');
    expect(error.message).toContain('N_name.up.sql');
    expect(error.message).toContain('<timestamp>_<name>/migration.sql');
  });

  it('rejects a stray SQL file in a detected layout instead of skipping it', async () => {
    const dir = await tree({ '0001_a.sql': '-- migrate:up\nselect 1;\n', 'seed.sql': 'select 2;' });
    const error = await failure(loadMigrations(dir));
    expect(error.code).toBe('MIGRATION_FILE_UNRECOGNIZED');
    expect(error.location).toBe(join(dir, 'seed.sql'));
  });

  it('uses the layout option instead of detection', async () => {
    const dir = await tree({
      '0001_a.sql': '-- migrate:up\nselect 1;\n',
      'V2__b.sql': 'select 2;',
    });
    const error = await failure(loadMigrations(dir, { layout: 'flyway' }));
    expect(error.code).toBe('MIGRATION_FILE_UNRECOGNIZED');
    expect(error.message).toContain('flyway');
    const flywayOnly = await tree({ 'V2__b.sql': 'select 2;' });
    expect(summary(await loadMigrations(flywayOnly, { layout: 'flyway' }))).toEqual([
      ['2', 'b', 'versioned'],
    ]);
  });

  it('returns no migration for a directory without migration files', async () => {
    expect(await loadMigrations(await tree({ 'README.md': 'empty' }))).toEqual([]);
  });

  it('rejects a missing directory with MIGRATIONS_DIR_NOT_FOUND', async () => {
    const error = await failure(loadMigrations(join(tmpdir(), 'cutover-no-such-dir-xyz')));
    expect(error.code).toBe('MIGRATIONS_DIR_NOT_FOUND');
    expect(error.category).toBe('config');
  });
});
