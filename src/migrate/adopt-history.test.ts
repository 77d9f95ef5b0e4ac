import { createHash, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMigrationDir, type MigrationDir } from '../../test/helpers/migration-dir.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { flywayChecksum, prismaChecksumMatches } from './adopt-history.js';
import { Migrator } from './migrator.js';

let db: TestDatabase;
let files: MigrationDir | undefined;
const open: Migrator[] = [];

beforeEach(async () => {
  db = await createTestDatabase('adopt');
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
  await db.drop();
  await files?.cleanup();
  files = undefined;
});

function migrator(): Migrator {
  const m = new Migrator({ databaseUrl: db.url, dir: files?.dir ?? '' });
  open.push(m);
  return m;
}

describe('checksums of other tools', () => {
  it("computes Flyway's CRC32 over the lines without line breaks, as a signed int", () => {
    // CRC32("123456789") = 0xCBF43926, which Java's (int) cast makes -873187034.
    expect(flywayChecksum('123\n456789')).toBe(-873187034);
    expect(flywayChecksum('123\r\n456789\r\n')).toBe(-873187034);
    expect(flywayChecksum('\ufeff123456789')).toBe(-873187034);
  });

  it('Flyway checksums do not depend on the line-ending style (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme' }).filter((s) => !/[\r\n]/.test(s))),
        (lines) => {
          expect(flywayChecksum(lines.join('\n'))).toBe(flywayChecksum(lines.join('\r\n')));
        },
      ),
    );
  });

  it("matches Prisma's sha256 checksums, zero-padded or in the old unpadded form, with either line ending", () => {
    const script = 'CREATE TABLE "a" ("id" INTEGER);\nCREATE TABLE "b" ("id" INTEGER);\n';
    const digest = createHash('sha256').update(script).digest();
    expect(prismaChecksumMatches(script, digest.toString('hex'))).toBe(true);
    const unpadded = [...digest].map((b) => b.toString(16)).join('');
    expect(prismaChecksumMatches(script, unpadded)).toBe(true);
    expect(prismaChecksumMatches(script.replace(/\n/g, '\r\n'), digest.toString('hex'))).toBe(true);
    expect(prismaChecksumMatches(script + '-- edited\n', digest.toString('hex'))).toBe(false);
  });
});

describe('adopt prisma', () => {
  const init =
    '-- CreateTable\nCREATE TABLE "users" ("id" SERIAL NOT NULL, CONSTRAINT "users_pkey" PRIMARY KEY ("id"));\n';
  const posts =
    '-- CreateTable\nCREATE TABLE "posts" ("id" SERIAL NOT NULL, "user_id" INTEGER NOT NULL);\n';
  const tags = '-- CreateTable\nCREATE TABLE "tags" ("id" SERIAL NOT NULL);\n';

  beforeEach(async () => {
    files = await createMigrationDir({
      '20240101093000_init/migration.sql': init,
      '20240215120000_posts/migration.sql': posts,
      '20240301080000_tags/migration.sql': tags,
      'migration_lock.toml': 'provider = "postgresql"\n',
    });
    // The table exactly as Prisma Migrate creates it, and the schema it applied.
    await db.pool.query(`
      CREATE TABLE "_prisma_migrations" (
        "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
        "checksum"              VARCHAR(64) NOT NULL,
        "finished_at"           TIMESTAMPTZ,
        "migration_name"        VARCHAR(255) NOT NULL,
        "logs"                  TEXT,
        "rolled_back_at"        TIMESTAMPTZ,
        "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
        "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
      );`);
    await db.pool.query(init);
    await db.pool.query(posts.replace('"user_id"', '"author_id"'));
    const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
    const insert = `insert into "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) values ($1, $2, $3, $4, $5, $6, $7, $8)`;
    await db.pool.query(insert, [
      randomUUID(),
      sha(init),
      '2024-01-01T09:30:01.250Z',
      '20240101093000_init',
      null,
      null,
      '2024-01-01T09:30:01.000Z',
      1,
    ]);
    // posts was applied with a different text than the file now has (edited after applying).
    await db.pool.query(insert, [
      randomUUID(),
      sha(posts.replace('"user_id"', '"author_id"')),
      '2024-02-15T12:00:02Z',
      '20240215120000_posts',
      null,
      null,
      '2024-02-15T12:00:01Z',
      1,
    ]);
    // A failed attempt of tags that was rolled back, never re-applied.
    await db.pool.query(insert, [
      randomUUID(),
      sha(tags),
      null,
      '20240301080000_tags',
      'ERROR: boom',
      '2024-03-01T08:05:00Z',
      '2024-03-01T08:00:00Z',
      0,
    ]);
  });

  it('imports applied migrations from _prisma_migrations so status, validate and up continue where Prisma stopped', async () => {
    const result = await migrator().adopt('prisma');
    expect(result.error).toBeUndefined();
    expect(result.adopted).toEqual([
      { version: '20240101093000', name: 'init', match: 'same' },
      { version: '20240215120000', name: 'posts', match: 'modified' },
    ]);
    expect(result.ignored).toEqual([{ name: '20240301080000_tags', reason: 'rolled back' }]);
    const status = await migrator().status();
    expect(status.migrations.map((e) => [e.version, e.state, e.source])).toEqual([
      ['20240101093000', 'applied', 'prisma'],
      ['20240215120000', 'modified', 'prisma'],
      ['20240301080000', 'pending', undefined],
    ]);
    expect(status.migrations[0]).toMatchObject({ executionMs: 250, appliedBy: 'prisma' });
    expect((await migrator().validate()).issues.map((i) => i.kind)).toEqual(['modified']);

    // Adopting again changes nothing.
    const again = await migrator().adopt('prisma');
    expect(again.adopted).toEqual([]);
    expect(again.alreadyPresent).toHaveLength(2);

    // Restore the file as applied: up then applies only the pending one.
    await files?.write(
      '20240215120000_posts/migration.sql',
      posts.replace('"user_id"', '"author_id"'),
    );
    // The adopted row keeps Prisma's checksum until re-adopted from a matching file.
    await db.pool.query(`delete from cutover.schema_migrations where version = '20240215120000'`);
    await migrator().adopt('prisma');
    const up = await migrator().up();
    expect(up.error).toBeUndefined();
    expect(up.results.map((r) => r.version)).toEqual(['20240301080000']);
  });

  it('reports ADOPT_SOURCE_NOT_FOUND when there is no Prisma history', async () => {
    await db.pool.query('drop table "_prisma_migrations"');
    const result = await migrator().adopt('prisma');
    expect(result.error?.code).toBe('ADOPT_SOURCE_NOT_FOUND');
    expect(result.error?.category).toBe('not_found');
  });
});

describe('adopt flyway', () => {
  const v1 = 'create table customers (id int primary key);\n';
  const v2 = 'alter table customers add column email text;\r\n';
  const v3 = 'create table invoices (id int primary key);\n';
  const r = 'create or replace view customer_emails as select email from customers;\n';

  beforeEach(async () => {
    files = await createMigrationDir({
      'V1__customers.sql': v1,
      'V1.1__customer_email.sql': v2,
      'V2__invoices.sql': v3,
      'R__customer_emails.sql': r,
    });
    // The table exactly as Flyway creates it on PostgreSQL.
    await db.pool.query(`
      CREATE TABLE "public"."flyway_schema_history" (
        "installed_rank" INT NOT NULL,
        "version" VARCHAR(50),
        "description" VARCHAR(200) NOT NULL,
        "type" VARCHAR(20) NOT NULL,
        "script" VARCHAR(1000) NOT NULL,
        "checksum" INTEGER,
        "installed_by" VARCHAR(100) NOT NULL,
        "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
        "execution_time" INTEGER NOT NULL,
        "success" BOOLEAN NOT NULL
      );
      ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
      CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");`);
    await db.pool.query(v1 + v2 + r);
    const insert = `insert into flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
    await db.pool.query(insert, [
      1,
      '1',
      'customers',
      'SQL',
      'V1__customers.sql',
      flywayChecksum(v1),
      'deploy',
      12,
      true,
    ]);
    await db.pool.query(insert, [
      2,
      '1.1',
      'customer email',
      'SQL',
      'V1.1__customer_email.sql',
      flywayChecksum(v2),
      'deploy',
      7,
      true,
    ]);
    await db.pool.query(insert, [
      3,
      '2',
      'invoices',
      'SQL',
      'V2__invoices.sql',
      flywayChecksum(v3),
      'deploy',
      3,
      false,
    ]);
    await db.pool.query(insert, [
      4,
      null,
      'customer emails',
      'SQL',
      'R__customer_emails.sql',
      flywayChecksum(r),
      'deploy',
      2,
      true,
    ]);
  });

  it('imports successful versioned and repeatable migrations from flyway_schema_history, skipping failed ones', async () => {
    const result = await migrator().adopt('flyway');
    expect(result.error).toBeUndefined();
    expect(result.adopted).toEqual([
      { version: '1', name: 'customers', match: 'same' },
      { version: '1.1', name: 'customer_email', match: 'same' },
      { version: undefined, name: 'customer_emails', match: 'same' },
    ]);
    expect(result.ignored).toEqual([{ name: '2 invoices', reason: 'failed' }]);
    const status = await migrator().status();
    expect(status.migrations.map((e) => [e.version ?? e.name, e.state])).toEqual([
      ['1', 'applied'],
      ['1.1', 'applied'],
      ['2', 'pending'],
      ['customer_emails', 'applied'],
    ]);
    expect(status.migrations[0]).toMatchObject({
      executionMs: 12,
      appliedBy: 'deploy',
      source: 'flyway',
    });
    const up = await migrator().up();
    expect(up.results.map((r) => r.version ?? r.name)).toEqual(['2']);
  });

  it("keeps Flyway's baseline and honours undo rows", async () => {
    await db.pool.query('delete from flyway_schema_history');
    const insert = `insert into flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
    await db.pool.query(insert, [
      1,
      '1',
      '<< Flyway Baseline >>',
      'BASELINE',
      '<< Flyway Baseline >>',
      null,
      'dba',
      0,
      true,
    ]);
    await db.pool.query(insert, [
      2,
      '1.1',
      'customer email',
      'SQL',
      'V1.1__customer_email.sql',
      flywayChecksum(v2),
      'deploy',
      7,
      true,
    ]);
    await db.pool.query(insert, [
      3,
      '2',
      'invoices',
      'SQL',
      'V2__invoices.sql',
      flywayChecksum(v3),
      'deploy',
      3,
      true,
    ]);
    await db.pool.query(insert, [
      4,
      '2',
      'invoices',
      'UNDO_SQL',
      'U2__invoices.sql',
      0,
      'deploy',
      1,
      true,
    ]);
    const result = await migrator().adopt('flyway');
    expect(result.baseline).toBe('1');
    expect(result.adopted.map((e) => e.version)).toEqual(['1.1']);
    const status = await migrator().status();
    expect(status.migrations.map((e) => [e.version ?? e.name, e.state])).toEqual([
      ['1', 'baseline'],
      ['1.1', 'applied'],
      ['2', 'pending'],
      ['customer_emails', 'pending'],
    ]);
  });
});
