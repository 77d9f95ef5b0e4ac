import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Migration, SqlStatement } from './migration.js';
import {
  BATCH_TARGET_MS,
  BatchSizer,
  FIRST_BATCH_SIZE,
  MAX_BATCH_MIGRATIONS,
  MAX_BATCH_SQL,
  batchLength,
  buildBatchScript,
  locateBatchPosition,
} from './migration-batch.js';
import type { PreparedStep } from './prepared-step.js';

function step(
  version: string,
  sqls: string[],
  overrides: Partial<PreparedStep> = {},
): PreparedStep {
  const statements: SqlStatement[] = sqls.map((sql) => ({ sql, offset: 0, line: 1, column: 1 }));
  const migration = {
    version,
    name: `m${version}`,
    layout: 'native',
    kind: 'versioned',
    checksum: 'c'.repeat(64),
    files: [`/m/${version}.sql`],
  } as unknown as Migration;
  return {
    migration,
    direction: 'up',
    file: `/m/${version}.sql`,
    transactional: true,
    history: { type: 'insert-versioned', version },
    sql: { statements, fileText: sqls.join(';\n') },
    ...overrides,
  };
}

const options = {
  lockTimeoutMs: 2000,
  statementTimeoutMs: 0,
  appliedBy: "o'brien",
  runId: null,
  deferFlush: [true, true, false],
};

/** Text that may hold any character, outside the BMP included. */
const sqlText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 });

describe('buildBatchScript', () => {
  it('wraps every migration in its own BEGIN … COMMIT with lock_timeout, escapes history values, and ends with the session check', () => {
    const script = buildBatchScript(
      [step('0001', ['create table a (id int)']), step('0002', ['select 1 -- note'])],
      { ...options, deferFlush: [true, false] },
    );
    expect(script.text).toContain('set local lock_timeout = 2000;');
    expect(script.text.match(/\bbegin;/g)).toHaveLength(2);
    expect(script.text.match(/\bcommit;/g)).toHaveLength(2);
    // Only the first migration's commit skips the WAL flush.
    expect(script.text.match(/synchronous_commit = off/g)).toHaveLength(1);
    expect(script.text).toContain(`'o''brien'`);
    // A statement ending in a line comment is closed by a line break before its semicolon.
    expect(script.text).toContain('select 1 -- note\n;');
    expect(script.parts.at(-1)?.kind).toBe('check');
    expect(script.parts.map((p) => p.kind).filter((k) => k === 'statement')).toHaveLength(2);
    expect(script.historyPart.map((i) => script.parts[i]?.kind)).toEqual(['history', 'history']);
  });

  it('maps every character of every statement back to its statement and its position in it (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(sqlText, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
        (migrations) => {
          const steps = migrations.map((sqls, k) => step(String(k + 1), sqls));
          const script = buildBatchScript(steps, { ...options, deferFlush: [] });
          script.parts.forEach((part, index) => {
            if (part.kind !== 'statement') return;
            const sql = (
              steps[part.step]?.sql?.statements[part.statementIndex ?? -1] as SqlStatement
            ).sql;
            expect(script.text.slice(part.start, part.start + part.length)).toBe(sql);
            const before = [...script.text.slice(0, part.start)].length;
            [...sql].forEach((_, c) => {
              expect(locateBatchPosition(script, before + c + 1)).toEqual({
                part: index,
                position: c + 1,
              });
            });
          });
        },
      ),
    );
  });

  it('locates nothing for positions that are not positions', () => {
    const script = buildBatchScript([step('0001', ['select 1'])], { ...options, deferFlush: [] });
    expect(locateBatchPosition(script, 0)).toBeUndefined();
    expect(locateBatchPosition(script, Number.NaN)).toBeUndefined();
  });
});

describe('batchLength', () => {
  it('takes consecutive transactional up migrations in SQL, up to the limit', () => {
    const steps = [
      step('1', ['select 1']),
      step('2', ['select 2']),
      step('3', ['create index concurrently i on t (x)'], { transactional: false }),
      step('4', ['select 4']),
    ];
    expect(batchLength(steps, 0, 10)).toBe(2);
    expect(batchLength(steps, 1, 10)).toBe(1);
    expect(batchLength(steps, 2, 10)).toBe(0);
    expect(batchLength(steps, 0, 1)).toBe(1);
    const down = step('5', ['drop table t'], {
      direction: 'down',
      history: { type: 'delete-versioned', version: '5' },
    });
    expect(batchLength([down, ...steps], 0, 10)).toBe(0);
    const ts = step('6', [], { sql: undefined });
    expect(batchLength([ts], 0, 10)).toBe(0);
  });

  it('keeps a batch within the SQL size bound, but always takes one migration', () => {
    const big = 'x'.repeat(MAX_BATCH_SQL / 2);
    const steps = [step('1', [big]), step('2', [big]), step('3', [big])];
    expect(batchLength(steps, 0, 100)).toBe(1);
    expect(batchLength([step('1', ['x'.repeat(MAX_BATCH_SQL * 2)])], 0, 100)).toBe(1);
    const many = Array.from({ length: MAX_BATCH_MIGRATIONS + 5 }, (_, i) =>
      step(String(i), ['select 1']),
    );
    expect(batchLength(many, 0, 1000)).toBe(MAX_BATCH_MIGRATIONS);
  });

  it('ends a batch after a migration that changes how the session lexes SQL', () => {
    const steps = [
      step('1', ['select 1']),
      step('2', ["set standard_conforming_strings = 'off'"]),
      step('3', ['select 3']),
    ];
    expect(batchLength(steps, 0, 10)).toBe(2);
    expect(batchLength([step('1', ["SET NAMES 'LATIN1'"]), step('2', ['select 2'])], 0, 10)).toBe(
      1,
    );
  });
});

describe('BatchSizer', () => {
  it('starts small, at most doubles, and shrinks to what fits in the target time', () => {
    const sizer = new BatchSizer();
    expect(sizer.next()).toBe(FIRST_BATCH_SIZE);
    sizer.record(FIRST_BATCH_SIZE, FIRST_BATCH_SIZE); // 1 ms each
    expect(sizer.next()).toBe(FIRST_BATCH_SIZE * 2);
    for (let i = 0; i < 10; i++) sizer.record(sizer.next(), sizer.next() * 0.5);
    expect(sizer.next()).toBe(MAX_BATCH_MIGRATIONS);
    sizer.record(1, BATCH_TARGET_MS * 10); // one slow migration
    expect(sizer.next()).toBe(1);
    sizer.record(1, 1);
    expect(sizer.next()).toBe(2);
  });
});
