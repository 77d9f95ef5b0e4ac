import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import {
  assertVerificationPassed,
  runVerification,
  verificationChecksSchema,
  type VerificationCheck,
} from './verification.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('verify');
  await db.pool.query(`
    create table src (tenant int not null, id int not null, name text, amount numeric, primary key (tenant, id));
    insert into src select t, i, 'n' || i, i * 1.5 from generate_series(1, 5) t, generate_series(1, 2000) i;
    create table dst (like src including all);
    insert into dst select * from src;
  `);
});
afterAll(async () => {
  await db.drop();
});

describe('runVerification', () => {
  it('passes SQL assertions returning true or no rows, and fails others with the rows returned', async () => {
    const report = await runVerification(db.pool, [
      { sql: 'select count(*) = 10000 from src' },
      { sql: 'select tenant, id from src where name is null' },
      {
        name: 'no big amounts',
        sql: 'select tenant, id, amount from src where amount > 2999 order by 1, 2',
        severity: 'warning',
      },
      { sql: 'select count(*) = 1 from src', severity: 'info', recommendation: 'ignore this one' },
    ]);
    expect(report.passed).toBe(true);
    expect(report.checks.map((c) => c.passed)).toEqual([true, true, false, false]);
    expect(report.warnings.map((w) => w.name)).toEqual(['no big amounts']);
    expect(report.warnings[0]?.details).toMatchObject({ rowCount: 5 });
    expect(report.info[0]?.message).toContain('false');
    expect(report.recommendations).toContain('select count(*) = 1 from src: ignore this one');
  });

  it('compares row counts of two queries or tables', async () => {
    const report = await runVerification(db.pool, [
      { counts: { source: 'src', target: 'public.dst' } },
      {
        counts: { source: 'select * from src where tenant = 1', target: 'select 1 from dst' },
        severity: 'warning',
      },
    ]);
    expect(report.checks[0]).toMatchObject({
      passed: true,
      details: { source: 10000, target: 10000 },
    });
    expect(report.checks[1]).toMatchObject({
      passed: false,
      details: { source: 2000, target: 10000 },
    });
  });

  it('compares data by key ranges and names exactly the differing keys', async () => {
    await db.pool.query(`
      update dst set name = 'changed' where tenant = 2 and id = 77;
      delete from dst where tenant = 4 and id = 1500;
      insert into dst values (5, 9999, 'extra', 1);
    `);
    const check: VerificationCheck = {
      name: 'src = dst',
      compare: { source: 'src', target: 'dst', key: ['tenant', 'id'], chunkSize: 1000 },
    };
    const report = await runVerification(db.pool, [check]);
    expect(report.passed).toBe(false);
    const result = report.critical[0];
    expect(result?.differences).toEqual([
      { key: { tenant: '2', id: '77' }, issue: 'different' },
      { key: { tenant: '4', id: '1500' }, issue: 'missing_in_target' },
      { key: { tenant: '5', id: '9999' }, issue: 'extra_in_target' },
    ]);
    // Only the chunks holding a difference were compared row by row.
    expect(result?.details).toMatchObject({
      differingChunks: 3,
      missingInTarget: 1,
      extraInTarget: 1,
      different: 1,
    });
    expect(Number(result?.details?.chunks)).toBeGreaterThan(3);
    expect(result?.message).toContain('tenant=2, id=77');
    expect(() => assertVerificationPassed(report)).toThrow(
      expect.objectContaining({ code: 'VERIFICATION_FAILED', category: 'validation' }) as Error,
    );
  });

  it('compares chosen columns of two queries with the same shape', async () => {
    const report = await runVerification(db.pool, [
      {
        compare: {
          source: 'select tenant, id, amount from src where tenant = 1',
          target: 'select id, tenant, amount from dst where tenant = 1',
          key: ['tenant', 'id'],
          columns: ['amount'],
        },
      },
      {
        compare: {
          source: 'select tenant, id from src',
          target: 'select tenant from dst',
          key: 'tenant',
        },
        severity: 'warning',
      },
    ]);
    expect(report.checks[0]?.passed).toBe(true);
    expect(report.checks[1]).toMatchObject({ passed: false });
    expect(report.checks[1]?.message).toContain('target lacks id');
  });

  it('reports a broken query as a failed check, not a crash', async () => {
    const report = await runVerification(db.pool, [{ sql: 'select nope from src' }]);
    expect(report.passed).toBe(false);
    expect(report.critical[0]?.message).toContain('could not run');
    expect(report.critical[0]?.details).toMatchObject({ sqlstate: '42703' });
  });

  it('runs checks read-only', async () => {
    const report = await runVerification(db.pool, [{ sql: 'delete from src where false' }]);
    expect(report.critical[0]?.details).toMatchObject({ sqlstate: '25006' });
  });

  it('rejects unknown keys and empty check lists in the step body', () => {
    expect(verificationChecksSchema.safeParse([]).success).toBe(false);
    expect(
      verificationChecksSchema.safeParse([{ sql: 'select true', severty: 'info' }]).success,
    ).toBe(false);
    expect(
      verificationChecksSchema.safeParse([{ sql: 'select true', severity: 'fatal' }]).success,
    ).toBe(false);
    expect(
      verificationChecksSchema.safeParse([{ counts: { source: 'a', target: 'b' } }]).success,
    ).toBe(true);
  });
});
