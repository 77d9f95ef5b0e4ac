import type pg from 'pg';
import { z } from 'zod';
import { CutoverError, describeError } from '../errors/index.js';
import { isDatabaseError } from '../db/index.js';
import type { Clock, StepCheckpoint } from '../steps/step-kind.js';
import { createBatchSizer } from './batch-sizer.js';
import {
  quoteIdent,
  resolveTable,
  tableColumns,
  type ColumnInfo,
  type Queryable,
  type TableRef,
} from './identifiers.js';
import { systemClock } from './system-clock.js';

/** What `transform` and `revert` get with each batch. */
export interface BackfillBatchContext {
  /** The batch's connection, inside its transaction: write with it so the writes commit with the checkpoint. */
  client: pg.PoolClient;
  /** Aborts when a stop is requested; a long transform may check it (throwing rolls the batch back). */
  signal: AbortSignal;
  /** 1-based number of this batch, counted across resumes. */
  batch: number;
}

/**
 * A backfill written as a TypeScript module (default export, or a named
 * export `backfill`). Rows of `table` are read in keyset order of `key`, one
 * batch per short transaction, and handed to `transform`, which writes
 * wherever it needs to with `ctx.client`.
 *
 * ```ts
 * import type { BackfillModule } from 'cutover';
 *
 * export default {
 *   table: 'orders',
 *   key: 'id',
 *   where: 'total_cents is null',
 *   async transform(rows, { client }) {
 *     await client.query(
 *       'update orders set total_cents = (total * 100)::bigint where id = any($1)',
 *       [rows.map((r) => r.id)],
 *     );
 *   },
 *   async revert(rows, { client }) {
 *     await client.query('update orders set total_cents = null where id = any($1)', [rows.map((r) => r.id)]);
 *   },
 * } satisfies BackfillModule<{ id: string }>;
 * ```
 */
export interface BackfillModule<Row extends object = Record<string, unknown>> {
  /** Source table (`name` or `schema.name`). */
  table: string;
  /**
   * Keyset pagination key: a column or columns that are NOT NULL and unique
   * together (a primary key or a unique index on them or on a subset). An
   * index led by these columns makes each batch an index range scan.
   */
  key: string | readonly string[];
  /** Columns to read (default all, `*`). */
  columns?: readonly string[];
  /** SQL condition on the table's columns selecting the rows to process (default all rows). */
  where?: string;
  /** First batch size in rows (the size then adapts). Default 1 000. */
  batchSize?: number;
  /**
   * Tables `transform` writes (default `[table]`): a rollback without `revert`
   * restores them from a snapshot of the run, which must cover them all.
   */
  writes?: readonly string[];
  /** Writes the new data for a batch of rows; runs inside the batch's transaction. */
  transform(rows: Row[], ctx: BackfillBatchContext): void | Promise<void>;
  /** Undoes `transform` for a batch of rows (compensation); same batching as `transform`. */
  revert?(rows: Row[], ctx: BackfillBatchContext): void | Promise<void>;
}

/**
 * A plain column update: `UPDATE table SET set WHERE where`, in batches.
 * `set` is a SQL `SET` list (`status = 'active', touched_at = now()`) or a map
 * of column → SQL expression (`{ status: "'active'" }`).
 */
export interface InlineBackfill {
  table: string;
  set: string | Readonly<Record<string, string>>;
  where?: string;
  /** Keyset key; default the table's primary key. */
  key?: string | readonly string[];
  /** First batch size in rows. Default 1 000. */
  batchSize?: number;
}

/** Either kind of backfill. */
export type BackfillSource = BackfillModule | InlineBackfill;

/** True when `source` is a {@link BackfillModule} (has a `transform`). */
export function isBackfillModule(source: BackfillSource): source is BackfillModule {
  return typeof (source as Partial<BackfillModule>).transform === 'function';
}

/** The durable checkpoint of a backfill, saved in the same transaction as each batch. */
export interface BackfillCursor {
  /** `apply` for `transform`/the inline update, `revert` for compensation. */
  mode: 'apply' | 'revert';
  /** The last processed key (each column as text), or null before the first batch. */
  after: string[] | null;
  /** Rows processed so far. */
  rows: number;
  /** Batches committed so far. */
  batches: number;
  /** Batch size reached, so a resume continues at the adapted size. */
  batchSize: number;
}

const cursorSchema = z.object({
  mode: z.enum(['apply', 'revert']),
  after: z.array(z.string()).nullable(),
  rows: z.number().int().nonnegative(),
  batches: z.number().int().nonnegative(),
  batchSize: z.number().int().positive(),
});

/** Progress of a backfill, reported after each batch. */
export interface BackfillProgress {
  /** Rows processed so far (including before a resume). */
  done: number;
  /** Estimated rows to process (planner estimate: `pg_class.reltuples`, or `EXPLAIN` with a `where`). */
  total?: number;
  /** Rows per second in this call. */
  ratePerSecond?: number;
  /** Estimated time left in ms. */
  etaMs?: number;
  /** Next batch size in rows. */
  batchSize: number;
}

/** Facts about one committed batch. */
export interface BackfillBatchStats {
  /** 1-based batch number across resumes. */
  batch: number;
  /** Rows in the batch. */
  rows: number;
  /** Rows the inline update changed (inline backfills only). */
  written?: number;
  /** Duration from BEGIN to COMMIT, in ms. */
  ms: number;
  /** The key the checkpoint now points at. */
  after: string[];
  /** Size of the next batch. */
  nextBatchSize: number;
}

/** Options of {@link runBackfill} and {@link revertBackfill}. */
export interface BackfillOptions {
  /** Checked between batches: an abort stops before the next batch and throws the signal's reason. */
  signal?: AbortSignal;
  /** Clock for batch durations and pauses. Default the system clock. */
  clock?: Clock;
  /**
   * Durable checkpoint; `save` is called with the batch's client so the
   * cursor commits with the batch. Default: in memory (no resume across calls).
   */
  checkpoint?: StepCheckpoint;
  /** First batch size in rows. Default the module's `batchSize`, else 1 000. */
  batchSize?: number;
  /** Target batch duration in ms the size adapts toward. Default 200; 0 keeps the size fixed. */
  targetBatchMs?: number;
  /** Smallest batch in rows. Default 10. */
  minBatchSize?: number;
  /** Largest batch in rows. Default 100 000. */
  maxBatchSize?: number;
  /** Pause between batches in ms (lets replicas and vacuum keep up). Default 0. */
  pauseMs?: number;
  /** `lock_timeout` of each batch, in ms. Default 2 000. */
  lockTimeoutMs?: number;
  /** Attempts for a batch that hits `lock_timeout`, a deadlock or a serialization failure. Default 5. */
  maxAttempts?: number;
  /** Called after each batch (and once at the start). */
  onProgress?(progress: BackfillProgress): void;
  /** Called after each committed batch. */
  onBatch?(stats: BackfillBatchStats): void | Promise<void>;
}

/** What a backfill did. */
export interface BackfillResult {
  /** `schema.name` of the source table. */
  table: string;
  mode: 'apply' | 'revert';
  /** Rows processed in total, including before a resume. */
  rows: number;
  /** Rows processed by this call. */
  rowsThisCall: number;
  /** Rows changed by an inline update in this call (inline backfills only). */
  written?: number;
  /** Batches in total, including before a resume. */
  batches: number;
  /** Batches committed by this call. */
  batchesThisCall: number;
  /** Duration of this call in ms. */
  durationMs: number;
  /** Batch durations of this call in ms (nearest-rank percentiles). */
  batchMs?: { p50: number; p99: number; max: number };
  /** The key the call resumed after, when it resumed. */
  resumedAfter?: string[];
  /** Batches retried after a lock timeout, deadlock or serialization failure. */
  retries: number;
  /** Things worth knowing (e.g. no index supports the key). */
  warnings: string[];
}

/** A checkpoint kept in memory (the default; use the step's checkpoint for durability). */
export function memoryCheckpoint(): StepCheckpoint {
  let value: unknown;
  return {
    load<T>() {
      return Promise.resolve(value as T | undefined);
    },
    save<T>(next: T) {
      value = next;
      return Promise.resolve();
    },
  };
}

/** A backfill's table and key, checked against the catalog. */
export interface BackfillPlan {
  table: TableRef;
  key: ColumnInfo[];
  warnings: string[];
}

function keyList(key: string | readonly string[] | undefined): string[] | undefined {
  if (key === undefined) return undefined;
  return typeof key === 'string' ? [key] : [...key];
}

/**
 * Checks a backfill's table and key: the table exists, the key columns exist,
 * are NOT NULL and unique together (a primary key or a unique, non-partial
 * index on them or a subset). Warns when no index is led by the key.
 *
 * @throws CutoverError `TABLE_NOT_FOUND` (not_found), `BACKFILL_KEY_REQUIRED`,
 *   `BACKFILL_KEY_UNKNOWN_COLUMN`, `BACKFILL_KEY_NULLABLE`, `BACKFILL_KEY_NOT_UNIQUE` (config).
 */
export async function planBackfill(db: Queryable, source: BackfillSource): Promise<BackfillPlan> {
  const table = await resolveTable(db, source.table, 'table');
  const columns = await tableColumns(db, table.oid);
  let keyNames = keyList(source.key);
  if (keyNames === undefined) {
    const { rows } = await db.query<{ name: string }>(
      `select a.attname as name
         from pg_index i
         cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
         join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = $1 and i.indisprimary
        order by k.ord`,
      [table.oid],
    );
    keyNames = rows.map((r) => r.name);
    if (keyNames.length === 0) {
      throw new CutoverError(
        'BACKFILL_KEY_REQUIRED',
        'config',
        `Table ${table.qualified} has no primary key to paginate on.`,
        { location: 'key', hint: 'Give key: the column(s) of a unique, NOT NULL key.' },
      );
    }
  }
  const key: ColumnInfo[] = [];
  for (const name of keyNames) {
    const column = columns.find((c) => c.name === name);
    if (column === undefined) {
      throw new CutoverError(
        'BACKFILL_KEY_UNKNOWN_COLUMN',
        'config',
        `Key column "${name}" does not exist in ${table.qualified}.`,
        { location: 'key', hint: `Columns: ${columns.map((c) => c.name).join(', ')}.` },
      );
    }
    if (!column.notNull) {
      throw new CutoverError(
        'BACKFILL_KEY_NULLABLE',
        'config',
        `Key column "${name}" of ${table.qualified} allows NULL; keyset pagination would skip those rows.`,
        { location: 'key', hint: 'Use a NOT NULL unique key (usually the primary key).' },
      );
    }
    key.push(column);
  }
  const { rows: indexes } = await db.query<{
    columns: string[];
    unique: boolean;
    partial: boolean;
  }>(
    `select array(select a.attname from unnest(i.indkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                   order by k.ord)::text[] as columns,
            i.indisunique as unique, i.indpred is not null as partial
       from pg_index i where i.indrelid = $1 and i.indisvalid`,
    [table.oid],
  );
  const names = key.map((k) => k.name);
  const unique = indexes.some(
    (i) =>
      i.unique && !i.partial && i.columns.length > 0 && i.columns.every((c) => names.includes(c)),
  );
  if (!unique) {
    throw new CutoverError(
      'BACKFILL_KEY_NOT_UNIQUE',
      'config',
      `Key (${names.join(', ')}) of ${table.qualified} is not unique: keyset pagination could skip rows.`,
      { location: 'key', hint: 'Use the primary key, or add a unique index on the key columns.' },
    );
  }
  const warnings: string[] = [];
  const led = indexes.some(
    (i) => !i.partial && names.every((name, index) => i.columns[index] === name),
  );
  if (!led) {
    warnings.push(
      `No index of ${table.qualified} starts with (${names.join(', ')}): every batch scans the table. Add one, or paginate on the primary key.`,
    );
  }
  return { table, key, warnings };
}

/**
 * The planner's estimate of the rows a backfill processes: `pg_class.reltuples`
 * (undefined when the table was never analyzed), or the `EXPLAIN` row
 * estimate when there is a `where`.
 */
export async function estimateBackfillRows(
  db: Queryable,
  table: TableRef,
  where?: string,
): Promise<number | undefined> {
  if (where !== undefined) {
    try {
      const { rows } = await db.query<{ 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }>(
        `explain (format json) select 1 from ${table.sql} where ${where}`,
      );
      const estimate = rows[0]?.['QUERY PLAN'][0]?.Plan['Plan Rows'];
      if (typeof estimate === 'number') return Math.round(estimate);
    } catch {
      return undefined;
    }
  }
  const { rows } = await db.query<{ n: number }>(
    'select reltuples::float8 as n from pg_class where oid = $1',
    [table.oid],
  );
  const n = rows[0]?.n;
  return n === undefined || n < 0 ? undefined : Math.round(n);
}

interface BatchOutcome {
  rows: number;
  written?: number;
  after: string[] | undefined;
}

type BatchRunner = (
  client: pg.PoolClient,
  after: string[] | null,
  limit: number,
  batch: number,
) => Promise<BatchOutcome>;

function keysetSql(plan: BackfillPlan, after: string[] | null, firstParam: number) {
  const cols = plan.key.map((k) => quoteIdent(k.name));
  const tuple = `(${cols.join(', ')})`;
  const params = plan.key.map((k, i) => `$${firstParam + i}::${k.type}`);
  return {
    cols,
    tuple,
    lower: after === null ? 'true' : `${tuple} > (${params.join(', ')})`,
    order: cols.join(', '),
    orderDesc: cols.map((c) => `${c} desc`).join(', '),
    cursor: `array[${cols.map((c) => `${c}::text`).join(', ')}]`,
  };
}

function inlineSet(set: InlineBackfill['set']): string {
  if (typeof set === 'string') return set;
  return Object.entries(set)
    .map(([column, expression]) => `${quoteIdent(column)} = ${expression}`)
    .join(', ');
}

function inlineBatchRunner(plan: BackfillPlan, source: InlineBackfill): BatchRunner {
  const where = source.where === undefined ? 'true' : `(${source.where})`;
  const set = inlineSet(source.set);
  return async (client, after, limit) => {
    const k = keysetSql(plan, after, 2);
    const sql = `
      with batch as (
        select ${k.cols.join(', ')} from ${plan.table.sql}
         where ${k.lower} and ${where} order by ${k.order} limit $1
      ), last as (
        select ${k.cols.join(', ')} from batch order by ${k.orderDesc} limit 1
      ), updated as (
        update ${plan.table.sql} set ${set}
         where ${k.lower} and ${k.tuple} <= (select ${k.cols.join(', ')} from last) and ${where}
        returning 1
      )
      select (select count(*) from batch)::int as rows, (select count(*) from updated)::int as written,
             ${k.cursor} as cursor
        from last`;
    const { rows } = await client.query<{ rows: number; written: number; cursor: string[] }>(sql, [
      limit,
      ...(after ?? []),
    ]);
    const row = rows[0];
    if (row === undefined) return { rows: 0, written: 0, after: undefined };
    return { rows: row.rows, written: row.written, after: row.cursor };
  };
}

const CURSOR_COLUMN = '__cutover_cursor';

function moduleBatchRunner(
  plan: BackfillPlan,
  source: BackfillModule,
  mode: 'apply' | 'revert',
  handler: NonNullable<BackfillModule['revert']>,
  signal: AbortSignal,
): BatchRunner {
  // revert walks every row: `where` often selects rows transform has not done yet
  // (`new_column is null`), which after the transform matches nothing.
  const where = source.where === undefined || mode === 'revert' ? 'true' : `(${source.where})`;
  const columns =
    source.columns === undefined ? '*' : source.columns.map((c) => quoteIdent(c)).join(', ');
  return async (client, after, limit, batch) => {
    const k = keysetSql(plan, after, 2);
    const { rows } = await client.query<Record<string, unknown>>(
      `select ${columns}, ${k.cursor} as ${CURSOR_COLUMN} from ${plan.table.sql}
        where ${k.lower} and ${where} order by ${k.order} limit $1`,
      [limit, ...(after ?? [])],
    );
    const last = rows[rows.length - 1];
    if (last === undefined) return { rows: 0, after: undefined };
    const cursor = last[CURSOR_COLUMN] as string[];
    for (const row of rows) delete row[CURSOR_COLUMN];
    await handler(rows, { client, signal, batch });
    return { rows: rows.length, after: cursor };
  };
}

const RETRYABLE = new Set(['55P03', '40P01', '40001']);

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? 0;
}

/**
 * Runs a backfill: keyset pagination on the key (never `OFFSET`), each batch
 * ONE short transaction — `lock_timeout` set for it, the rows read (or, for
 * an inline update, read and updated in one statement bounded by the batch's
 * key range), `transform` called, the checkpoint saved with the batch's client
 * — then COMMIT, so data and checkpoint commit together. A resume (same
 * checkpoint) continues after the last committed key: no row is processed
 * twice and none is skipped.
 *
 * The batch size adapts toward `targetBatchMs` (see {@link createBatchSizer}).
 * A batch failing with a lock timeout, a deadlock or a serialization failure
 * is rolled back and retried at half the size after a backoff, up to
 * `maxAttempts`. Aborting `signal` stops between batches (the batch in flight
 * commits first) by throwing the signal's reason.
 *
 * @throws CutoverError from {@link planBackfill}; `BACKFILL_LOCK_TIMEOUT` (busy)
 *   when a batch cannot get its locks; `BACKFILL_FAILED` (failed) when a batch
 *   fails (that batch is rolled back; the checkpoint stays at the last
 *   committed batch); the signal's reason when aborted.
 */
export async function runBackfill(
  pool: pg.Pool,
  source: BackfillSource,
  options: BackfillOptions = {},
): Promise<BackfillResult> {
  return runBatches(pool, source, 'apply', options);
}

/**
 * Runs a module's `revert` over the source table with the same batching,
 * checkpointing (mode `revert`) and resume as {@link runBackfill}. It walks
 * EVERY row of the table, ignoring `where` (which usually selects rows not yet
 * transformed), so `revert` must accept rows `transform` never saw.
 *
 * @throws CutoverError `BACKFILL_NO_REVERT` (refused) when the module has no
 *   `revert`; otherwise as {@link runBackfill}.
 */
export async function revertBackfill(
  pool: pg.Pool,
  source: BackfillModule,
  options: BackfillOptions = {},
): Promise<BackfillResult> {
  if (source.revert === undefined) {
    throw new CutoverError(
      'BACKFILL_NO_REVERT',
      'refused',
      `The backfill of ${source.table} has no revert function.`,
      { hint: 'Add revert(rows, { client }) to the module, or restore a snapshot.' },
    );
  }
  return runBatches(pool, source, 'revert', options);
}

async function runBatches(
  pool: pg.Pool,
  source: BackfillSource,
  mode: 'apply' | 'revert',
  options: BackfillOptions,
): Promise<BackfillResult> {
  const clock = options.clock ?? systemClock;
  const signal = options.signal ?? new AbortController().signal;
  const checkpoint = options.checkpoint ?? memoryCheckpoint();
  signal.throwIfAborted();
  const started = clock.now();
  const plan = await planBackfill(pool, source);
  let runner: BatchRunner;
  if (isBackfillModule(source)) {
    const handler = mode === 'apply' ? source.transform.bind(source) : source.revert?.bind(source);
    if (handler === undefined) throw new Error('revert missing');
    runner = moduleBatchRunner(plan, source, mode, handler, signal);
  } else {
    runner = inlineBatchRunner(plan, source);
  }

  const loaded = cursorSchema.safeParse(await checkpoint.load());
  const saved = loaded.success && loaded.data.mode === mode ? loaded.data : undefined;
  const sizer = createBatchSizer({
    initial: saved?.batchSize ?? options.batchSize ?? source.batchSize ?? 1000,
    targetMs: options.targetBatchMs ?? 200,
    min: options.minBatchSize ?? 10,
    max: options.maxBatchSize ?? 100_000,
  });
  let cursor: BackfillCursor = saved ?? {
    mode,
    after: null,
    rows: 0,
    batches: 0,
    batchSize: sizer.size,
  };
  const resumedAfter = saved?.after ?? undefined;
  const estimate = await estimateBackfillRows(
    pool,
    plan.table,
    mode === 'revert' ? undefined : source.where,
  );
  const total = estimate === undefined ? undefined : Math.max(estimate, cursor.rows);
  const durations: number[] = [];
  let rowsThisCall = 0;
  let written = 0;
  let retries = 0;
  const lockTimeoutMs = options.lockTimeoutMs ?? 2000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  let size = sizer.size;

  const report = () => {
    if (options.onProgress === undefined) return;
    const elapsed = clock.now() - started;
    const rate = elapsed > 0 && rowsThisCall > 0 ? (rowsThisCall * 1000) / elapsed : undefined;
    const progressTotal = total === undefined ? undefined : Math.max(total, cursor.rows);
    options.onProgress({
      done: cursor.rows,
      ...(progressTotal === undefined ? {} : { total: progressTotal }),
      ...(rate === undefined ? {} : { ratePerSecond: rate }),
      ...(rate === undefined || progressTotal === undefined
        ? {}
        : { etaMs: Math.max(0, ((progressTotal - cursor.rows) / rate) * 1000) }),
      batchSize: size,
    });
  };
  report();

  for (;;) {
    signal.throwIfAborted();
    let attempt = 0;
    let outcome: BatchOutcome;
    let ms: number;
    for (;;) {
      attempt++;
      const batchNumber = cursor.batches + 1;
      const client = await pool.connect();
      const batchStart = clock.now();
      try {
        await client.query(
          `begin; set local lock_timeout = ${Math.max(0, Math.floor(lockTimeoutMs))}`,
        );
        outcome = await runner(client, cursor.after, size, batchNumber);
        if (outcome.after !== undefined) {
          const next: BackfillCursor = {
            mode,
            after: outcome.after,
            rows: cursor.rows + outcome.rows,
            batches: batchNumber,
            batchSize: size,
          };
          await checkpoint.save(next, client);
          await client.query('commit');
          cursor = next;
        } else {
          await client.query('commit');
        }
        ms = clock.now() - batchStart;
        client.release();
        break;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        client.release();
        if (signal.aborted && !isDatabaseError(error)) throw signal.reason;
        if (isDatabaseError(error) && RETRYABLE.has(error.code ?? '') && attempt < maxAttempts) {
          retries++;
          size = Math.max(options.minBatchSize ?? 10, Math.floor(size / 2));
          await clock.sleep(Math.min(5000, 100 * 2 ** (attempt - 1)), signal);
          continue;
        }
        const holders =
          isDatabaseError(error) && RETRYABLE.has(error.code ?? '')
            ? await lockHolders(pool, plan.table.oid)
            : [];
        throw batchError(error, plan, cursor, attempt, lockTimeoutMs, holders);
      }
    }
    if (outcome.after === undefined) break;
    rowsThisCall += outcome.rows;
    written += outcome.written ?? 0;
    durations.push(ms);
    size = sizer.observe(outcome.rows, ms);
    // The checkpoint saved the size used; keep the adapted one for the next batch.
    report();
    await options.onBatch?.({
      batch: cursor.batches,
      rows: outcome.rows,
      ...(outcome.written === undefined ? {} : { written: outcome.written }),
      ms,
      after: outcome.after,
      nextBatchSize: size,
    });
    if (outcome.rows < 1) break;
    if ((options.pauseMs ?? 0) > 0) {
      signal.throwIfAborted();
      await clock.sleep(options.pauseMs ?? 0, signal);
    }
  }
  const sorted = [...durations].sort((a, b) => a - b);
  return {
    table: plan.table.qualified,
    mode,
    rows: cursor.rows,
    rowsThisCall,
    ...(isBackfillModule(source) ? {} : { written }),
    batches: cursor.batches,
    batchesThisCall: durations.length,
    durationMs: clock.now() - started,
    ...(sorted.length === 0
      ? {}
      : {
          batchMs: {
            p50: percentile(sorted, 50),
            p99: percentile(sorted, 99),
            max: sorted[sorted.length - 1] ?? 0,
          },
        }),
    ...(resumedAfter === undefined ? {} : { resumedAfter }),
    retries,
    warnings: plan.warnings,
  };
}

/** Sessions holding a lock on the table (who blocks a batch), for the error message. */
async function lockHolders(pool: pg.Pool, oid: number): Promise<string[]> {
  try {
    const { rows } = await pool.query<{ pid: number; app: string; state: string; query: string }>(
      `select distinct a.pid, a.application_name as app, coalesce(a.state, '') as state,
              left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120) as query
         from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.relation = $1 and l.granted and l.pid <> pg_backend_pid()
        order by a.pid`,
      [oid],
    );
    return rows.map(
      (r) => `pid ${r.pid} (${r.app || 'no application_name'}, ${r.state}: ${r.query})`,
    );
  } catch {
    return [];
  }
}

function batchError(
  error: unknown,
  plan: BackfillPlan,
  cursor: BackfillCursor,
  attempts: number,
  lockTimeoutMs: number,
  holders: readonly string[] = [],
): CutoverError {
  const at =
    cursor.after === null ? 'the first batch' : `the batch after key (${cursor.after.join(', ')})`;
  const details = { table: plan.table.qualified, after: cursor.after, rowsDone: cursor.rows };
  if (isDatabaseError(error) && RETRYABLE.has(error.code ?? '')) {
    return new CutoverError(
      'BACKFILL_LOCK_TIMEOUT',
      'busy',
      `Backfill of ${plan.table.qualified}: ${at} could not get its locks (lock_timeout ${lockTimeoutMs} ms, ${attempts} attempts: ${error.message}); it was rolled back.${holders.length === 0 ? '' : ` Sessions holding locks on the table: ${holders.join('; ')}.`}`,
      {
        hint: 'End or wait for the blocking session (pg_stat_activity), then resume; or raise lockTimeoutMs.',
        details: { ...details, holders },
        cause: error,
      },
    );
  }
  const message = describeError(error);
  return new CutoverError(
    'BACKFILL_FAILED',
    'failed',
    `Backfill of ${plan.table.qualified} failed in ${at}: ${message}; that batch was rolled back (${cursor.rows} rows done before it).`,
    {
      hint: 'Fix the cause and resume: batches already committed are not processed again.',
      details,
      cause: error,
    },
  );
}
