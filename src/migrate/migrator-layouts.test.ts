import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMigrationDir, type MigrationDir } from '../../test/helpers/migration-dir.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import type { MigrationLayout } from './migration.js';
import { Migrator } from './migrator.js';

let db: TestDatabase;
let files: MigrationDir;
const open: Migrator[] = [];

beforeEach(async () => {
  db = await createTestDatabase('lay');
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
  await db.drop();
  await files.cleanup();
});

function migrator(): Migrator {
  const m = new Migrator({ databaseUrl: db.url, dir: files.dir });
  open.push(m);
  return m;
}

async function tables(): Promise<string[]> {
  const { rows } = await db.pool.query<{ t: string }>(
    `select table_name as t from information_schema.tables where table_schema = 'public' order by 1`,
  );
  return rows.map((r) => r.t);
}

/** Two migrations per layout: create `authors`, then `books` referencing it (with down scripts). */
const layouts: Record<MigrationLayout, Record<string, string>> = {
  native: {
    '20240101000000_authors.sql':
      '-- migrate:up\ncreate table authors (id int primary key);\n\n-- migrate:down\ndrop table authors;\n',
    '20240102000000_books.sql':
      '-- migrate:up\ncreate table books (id int primary key, author_id int references authors);\n\n-- migrate:down\ndrop table books;\n',
  },
  'golang-migrate': {
    '1_authors.up.sql': 'create table authors (id int primary key);\n',
    '1_authors.down.sql': 'drop table authors;\n',
    '2_books.up.sql':
      'BEGIN;\ncreate table books (id int primary key, author_id int references authors);\nCOMMIT;\n',
    '2_books.down.sql': 'drop table books;\n',
  },
  flyway: {
    'V1__authors.sql': 'create table authors (id int primary key);\n',
    'U1__authors.sql': 'drop table authors;\n',
    'V1.1__books.sql':
      'create table books (id int primary key, author_id int references authors);\n',
    'U1.1__books.sql': 'drop table books;\n',
  },
  prisma: {
    '20240101000000_authors/migration.sql':
      '-- CreateTable\nCREATE TABLE "authors" ("id" INTEGER NOT NULL, CONSTRAINT "authors_pkey" PRIMARY KEY ("id"));\n',
    '20240101000000_authors/down.sql': 'DROP TABLE "authors";\n',
    '20240102000000_books/migration.sql':
      '-- CreateTable\nCREATE TABLE "books" ("id" INTEGER NOT NULL, "author_id" INTEGER REFERENCES "authors");\n',
    '20240102000000_books/down.sql': 'DROP TABLE "books";\n',
    'migration_lock.toml': 'provider = "postgresql"\n',
  },
  typescript: {
    '0001_authors.ts':
      "export async function up(db) { await db.query('create table authors (id int primary key)'); }\nexport async function down(db) { await db.query('drop table authors'); }\n",
    '0002_books.ts':
      "export async function up(db) { await db.query('create table books (id int primary key, author_id int references authors)'); }\nexport async function down(db) { await db.query('drop table books'); }\n",
  },
};

describe('every layout end to end', () => {
  for (const [layout, content] of Object.entries(layouts) as [
    MigrationLayout,
    Record<string, string>,
  ][]) {
    it(`${layout}: detects the layout, applies, reports status and reverts`, async () => {
      files = await createMigrationDir(content);
      const before = await migrator().status();
      expect(before.layout).toBe(layout);
      expect(before.migrations.map((e) => e.state)).toEqual(['pending', 'pending']);

      const up = await migrator().up();
      expect(up.error).toBeUndefined();
      expect(up.results.map((r) => r.status)).toEqual(['applied', 'applied']);
      expect(await tables()).toEqual(['authors', 'books']);

      const status = await migrator().status();
      expect(status.migrations.map((e) => [e.name, e.state])).toEqual([
        ['authors', 'applied'],
        ['books', 'applied'],
      ]);
      expect(status.current).toBe(up.results[1]?.version);
      expect((await migrator().validate()).ok).toBe(true);

      const one = await migrator().down();
      expect(one.results.map((r) => [r.name, r.status])).toEqual([['books', 'reverted']]);
      expect(await tables()).toEqual(['authors']);
      const rest = await migrator().down({ to: null });
      expect(rest.results.map((r) => r.name)).toEqual(['authors']);
      expect(await tables()).toEqual([]);
      expect((await migrator().status()).migrations.map((e) => e.state)).toEqual([
        'pending',
        'pending',
      ]);
    });
  }
});
