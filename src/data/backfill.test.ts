import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import type { Clock, StepCheckpoint } from '../steps/step-kind.js';
import {
  planBackfill,
  revertBackfill,
  runBackfill,
  type BackfillBatchStats,
  type BackfillModule,
  type BackfillProgress,
} from './backfill.js';
import { loadBackfillModule } from './backfill-module.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('backfill');
  await db.pool.query('create table checkpoints (id text primary key, value jsonb not null)');
});
afterAll(async () => {
  await db.drop();
});

/** A checkpoint stored in a table, written on the batch's client (as the runner's store does). */
function tableCheckpoint(id: string): StepCheckpoint {
  return {
    async load<T>() {
      const { rows } = await db.pool.query<{ value: T }>(
        'select value from checkpoints where id = $1',
        [id],
      );
      return rows[0]?.value;
    },
    async save<T>(value: T, client?: pg.PoolClient) {
      await (client ?? db.pool).query(
        `insert into checkpoints values ($1, $2) on conflict (id) do update set value = excluded.value`,
        [id, JSON.stringify(value)],
      );
    },
  };
}

/** A clock whose time moves only when told to. */
function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    sleep(ms: number) {
      now += ms;
      return Promise.resolve();
    },
  };
}

async function processedCounts(table: string): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ processed: number; n: number }>(
    `select processed, count(*)::int as n from ${table} group by processed order by processed`,
  );
  return Object.fromEntries(rows.map((r) => [String(r.processed), r.n]));
}

describe('runBackfill with a module', () => {
  it('walks a composite key in keyset order, every row exactly once', async () => {
    await db.pool.query(`
      create table events (tenant_id int not null, seq int not null, value int not null,
        processed int not null default 0, primary key (tenant_id, seq));
      insert into events select t, s, t * 1000 + s, 0 from generate_series(1, 7) t, generate_series(1, 430) s;
    `);
    const seen: string[] = [];
    const backfill: BackfillModule<{ tenant_id: number; seq: number }> = {
      table: 'events',
      key: ['tenant_id', 'seq'],
      columns: ['tenant_id', 'seq'],
      async transform(rows, { client }) {
        for (const r of rows) seen.push(`${r.tenant_id}:${r.seq}`);
        await client.query(
          `update events set processed = processed + 1
            where (tenant_id, seq) in (select * from unnest($1::int[], $2::int[]))`,
          [rows.map((r) => r.tenant_id), rows.map((r) => r.seq)],
        );
      },
    };
    const result = await runBackfill(db.pool, backfill, {
      batchSize: 100,
      targetBatchMs: 0,
    });
    expect(result.rows).toBe(7 * 430);
    expect(result.batches).toBe(Math.ceil((7 * 430) / 100));
    expect(await processedCounts('events')).toEqual({ '1': 7 * 430 });
    const expectedOrder = [];
    for (let t = 1; t <= 7; t++) for (let s = 1; s <= 430; s++) expectedOrder.push(`${t}:${s}`);
    expect(seen).toEqual(expectedOrder);
  });

  it('only reads the rows matching where', async () => {
    const seen: number[] = [];
    const result = await runBackfill(
      db.pool,
      {
        table: 'events',
        key: ['tenant_id', 'seq'],
        where: 'tenant_id = 3 and seq <= 50',
        transform(rows) {
          seen.push(...rows.map((r) => Number(r.seq)));
        },
      },
      { batchSize: 7, targetBatchMs: 0 },
    );
    expect(result.rows).toBe(50);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('rolls back a failing batch and resumes after the last committed key, no row twice', async () => {
    await db.pool.query(`
      create table crash_rows (id bigint primary key, processed int not null default 0);
      insert into crash_rows select g, 0 from generate_series(1, 1000) g;
    `);
    const checkpoint = tableCheckpoint('crash');
    let calls = 0;
    const failing: BackfillModule<{ id: string }> = {
      table: 'crash_rows',
      key: 'id',
      async transform(rows, { client }) {
        calls++;
        await client.query('update crash_rows set processed = processed + 1 where id = any($1)', [
          rows.map((r) => r.id),
        ]);
        if (calls === 3) throw new Error('disk full');
      },
    };
    await expect(
      runBackfill(db.pool, failing as BackfillModule, {
        checkpoint,
        batchSize: 100,
        targetBatchMs: 0,
      }),
    ).rejects.toMatchObject({
      code: 'BACKFILL_FAILED',
      category: 'failed',
      message: expect.stringContaining('after key (200)') as unknown,
    });
    expect(await processedCounts('crash_rows')).toEqual({ '0': 800, '1': 200 });
    const resumed = await runBackfill(db.pool, failing, {
      checkpoint,
      batchSize: 100,
      targetBatchMs: 0,
    });
    expect(resumed.resumedAfter).toEqual(['200']);
    expect(resumed.rowsThisCall).toBe(800);
    expect(resumed.rows).toBe(1000);
    expect(await processedCounts('crash_rows')).toEqual({ '1': 1000 });
  });

  it('runs revert over the same rows with its own checkpoint mode', async () => {
    const checkpoint = tableCheckpoint('crash');
    const module: BackfillModule<{ id: string }> = {
      table: 'crash_rows',
      key: 'id',
      transform() {},
      async revert(rows, { client }) {
        await client.query('update crash_rows set processed = processed - 1 where id = any($1)', [
          rows.map((r) => r.id),
        ]);
      },
    };
    const result = await revertBackfill(db.pool, module, { checkpoint });
    expect(result.mode).toBe('revert');
    expect(result.rows).toBe(1000);
    expect(await processedCounts('crash_rows')).toEqual({ '0': 1000 });
  });

  it('refuses to revert a module without revert', async () => {
    await expect(
      revertBackfill(db.pool, { table: 'crash_rows', key: 'id', transform() {} }),
    ).rejects.toMatchObject({ code: 'BACKFILL_NO_REVERT', category: 'refused' });
  });
});

describe('runBackfill inline', () => {
  it('stops between batches on abort and resumes after the checkpointed key, no row twice', async () => {
    await db.pool.query(`
      create table accounts (id int primary key, status text, processed int not null default 0);
      insert into accounts select g, null, 0 from generate_series(1, 2000) g;
      analyze accounts;
    `);
    const checkpoint = tableCheckpoint('inline-abort');
    const controller = new AbortController();
    const progress: BackfillProgress[] = [];
    const first = runBackfill(
      db.pool,
      { table: 'accounts', set: { status: "'active'", processed: 'processed + 1' } },
      {
        checkpoint,
        batchSize: 150,
        targetBatchMs: 0,
        signal: controller.signal,
        onProgress: (p) => progress.push(p),
        onBatch: (b) => {
          if (b.batch === 4) controller.abort(new Error('stop requested'));
        },
      },
    );
    await expect(first).rejects.toThrow('stop requested');
    expect(await processedCounts('accounts')).toEqual({ '0': 1400, '1': 600 });
    expect(progress.at(-1)).toMatchObject({ done: 600, total: 2000 });

    const batches: BackfillBatchStats[] = [];
    const second = await runBackfill(
      db.pool,
      { table: 'accounts', set: "status = 'active', processed = processed + 1" },
      { checkpoint, batchSize: 150, targetBatchMs: 0, onBatch: (b) => void batches.push(b) },
    );
    expect(second.resumedAfter).toEqual(['600']);
    expect(second.rows).toBe(2000);
    expect(second.written).toBe(1400);
    expect(batches[0]?.batch).toBe(5);
    expect(await processedCounts('accounts')).toEqual({ '1': 2000 });
  });

  it('adapts the batch size toward the target duration (injected clock)', async () => {
    await db.pool.query(`
      create table adaptive (id int primary key, v int);
      insert into adaptive select g, 0 from generate_series(1, 3000) g;
    `);
    const clock = fakeClock();
    const sizes: number[] = [];
    // Each row "takes" 2 ms: a 200 ms batch is 100 rows.
    const result = await runBackfill(
      db.pool,
      {
        table: 'adaptive',
        key: 'id',
        transform(rows) {
          sizes.push(rows.length);
          clock.advance(rows.length * 2);
        },
      },
      { clock, batchSize: 10, targetBatchMs: 200, pauseMs: 50 },
    );
    expect(sizes.slice(0, 5)).toEqual([10, 20, 40, 80, 100]);
    expect(sizes.slice(5, -1).every((n) => n === 100)).toBe(true);
    expect(result.batchMs).toEqual({ p50: 200, p99: 200, max: 200 });
  });

  it('retries a batch blocked by a lock, then reports who holds it', async () => {
    const blocker = await db.pool.connect();
    try {
      await blocker.query(`set application_name = 'blocking-report-job'`);
      await blocker.query('begin');
      await blocker.query('select * from adaptive where id = 5 for update');
      await expect(
        runBackfill(
          db.pool,
          { table: 'adaptive', set: { v: 'v + 1' } },
          { lockTimeoutMs: 50, maxAttempts: 2, clock: fakeClock() },
        ),
      ).rejects.toMatchObject({
        code: 'BACKFILL_LOCK_TIMEOUT',
        category: 'busy',
        message: expect.stringContaining('blocking-report-job') as unknown,
      });
    } finally {
      await blocker.query('rollback');
      blocker.release();
    }
    const { rows } = await db.pool.query('select count(*)::int as n from adaptive where v <> 0');
    expect(rows).toEqual([{ n: 0 }]);
  });
});

describe('planBackfill', () => {
  it('rejects a nullable or non-unique key and defaults to the primary key', async () => {
    await db.pool.query(`
      create table keyless (a int, b int not null, c int not null);
      create unique index on keyless (a);
      create table pk2 (x int, y int, primary key (y, x));
    `);
    await expect(
      planBackfill(db.pool, { table: 'keyless', key: 'a', set: 'c = 1' }),
    ).rejects.toMatchObject({
      code: 'BACKFILL_KEY_NULLABLE',
    });
    await expect(
      planBackfill(db.pool, { table: 'keyless', key: 'b', set: 'c = 1' }),
    ).rejects.toMatchObject({
      code: 'BACKFILL_KEY_NOT_UNIQUE',
    });
    await expect(planBackfill(db.pool, { table: 'keyless', set: 'c = 1' })).rejects.toMatchObject({
      code: 'BACKFILL_KEY_REQUIRED',
    });
    await expect(planBackfill(db.pool, { table: 'nope', set: 'c = 1' })).rejects.toMatchObject({
      code: 'TABLE_NOT_FOUND',
    });
    const plan = await planBackfill(db.pool, { table: 'pk2', set: 'x = x' });
    expect(plan.key.map((k) => k.name)).toEqual(['y', 'x']);
  });
});

describe('loadBackfillModule', () => {
  it('loads a TypeScript module and rejects an invalid one naming every problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cutover-module-'));
    try {
      await writeFile(
        join(dir, 'good.ts'),
        `const size: number = 5;
         export default { table: 'adaptive', key: 'id', batchSize: size, transform(rows: unknown[]) { return rows.length; } };`,
      );
      await writeFile(
        join(dir, 'bad.ts'),
        `export const backfill = { table: 'adaptive', key: 3, transfrom() {} };`,
      );
      const good = await loadBackfillModule(join(dir, 'good.ts'));
      expect(good.batchSize).toBe(5);
      const error: unknown = await loadBackfillModule(join(dir, 'bad.ts')).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'BACKFILL_MODULE_INVALID', category: 'config' });
      const problems = (error as { details: { problems: string[] } }).details.problems.join('\n');
      expect(problems).toContain('key');
      expect(problems).toContain('transform');
      expect(problems).toContain('transfrom');
      await expect(loadBackfillModule(join(dir, 'missing.ts'))).rejects.toMatchObject({
        code: 'BACKFILL_MODULE_NOT_FOUND',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
