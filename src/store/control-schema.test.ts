import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { isCutoverError } from '../errors/index.js';
import { CONTROL_MIGRATIONS } from './control-migrations/index.js';
import { ensureControlSchema } from './control-schema.js';

describe('ensureControlSchema', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('ctl');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('lists internal migrations with unique ascending versions and NNNN-name file names', () => {
    const versions = CONTROL_MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    expect(versions[0]).toBe(1);
    for (const m of CONTROL_MIGRATIONS) expect(m.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it('creates the cutover schema once even when many processes start at the same time', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => ensureControlSchema(db.pool)),
    );
    const appliedBy = results.filter((r) => r.applied.length > 0);
    expect(appliedBy).toHaveLength(1);
    expect(appliedBy[0]?.applied).toEqual(CONTROL_MIGRATIONS.map((m) => m.version));
    const { rows } = await db.pool.query<{ version: number }>(
      'select version from cutover.control_schema_migrations order by version',
    );
    expect(rows.map((r) => r.version)).toEqual(CONTROL_MIGRATIONS.map((m) => m.version));
    const tables = await db.pool.query<{ name: string }>(
      `select table_name as name from information_schema.tables where table_schema = 'cutover'`,
    );
    expect(tables.rows.map((r) => r.name)).toEqual(
      expect.arrayContaining(['schema_migrations', 'migration_checkpoints']),
    );
  });

  it('is a no-op when the schema is up to date', async () => {
    const result = await ensureControlSchema(db.pool);
    expect(result.applied).toEqual([]);
    expect(result.version).toBe(CONTROL_MIGRATIONS.at(-1)?.version);
  });

  it('applies a newly appended internal migration and only that one', async () => {
    const extended = [
      ...CONTROL_MIGRATIONS,
      { version: 9001, name: 'test-extra', sql: 'create table cutover.test_extra (id int)' },
    ];
    const result = await ensureControlSchema(db.pool, { migrations: extended });
    expect(result.applied).toEqual([9001]);
    const again = await ensureControlSchema(db.pool, { migrations: extended });
    expect(again.applied).toEqual([]);
    // An older cutover (without 9001) reports the unknown version and leaves it alone.
    const older = await ensureControlSchema(db.pool);
    expect(older.unknown).toEqual([9001]);
  });

  it('rolls back every internal migration of the call when one fails', async () => {
    const failing = [
      ...CONTROL_MIGRATIONS,
      { version: 9100, name: 'good', sql: 'create table cutover.test_good (id int)' },
      { version: 9101, name: 'bad', sql: 'create table cutover.test_bad (id nosuchtype)' },
    ];
    const error: unknown = await ensureControlSchema(db.pool, { migrations: failing }).catch(
      (e: unknown) => e,
    );
    expect(isCutoverError(error) && error.code).toBe('CONTROL_SCHEMA_FAILED');
    const { rows } = await db.pool.query(
      `select 1 from information_schema.tables where table_schema = 'cutover' and table_name = 'test_good'`,
    );
    expect(rows).toHaveLength(0);
  });
});
