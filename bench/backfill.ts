/**
 * npm run bench:backfill — cutover's backfill engine against one `UPDATE`
 * statement of the same rows (the physical limit: one statement, one
 * transaction, no checkpoints, no pauses, locks every row until it commits).
 *
 * For each size (default 1M and 5M rows) two identical fresh tables are
 * created (`id bigint primary key, amount int, amount_cents bigint`, loaded
 * with generate_series, then VACUUM FREEZE ANALYZE); one gets
 * `UPDATE t SET amount_cents = amount * 100`, the other the same SET through
 * `runBackfill` (keyset batches, adaptive size toward 200 ms, a checkpoint
 * row written in each batch's transaction, lock_timeout per batch).
 * A CHECKPOINT runs before each measurement.
 *
 * Prints rows/s of both, the ratio, the batch durations (p50, p99, max) and
 * how the throughput changes from the smallest to the largest size.
 *
 * Database: DATABASE_URL (a scratch database `cutover_bench_backfill` is
 * created on that server and dropped at the end), else the embedded
 * PostgreSQL in .cutover/pg. Sizes: BENCH_SIZES=1000000,5000000.
 */
import os from 'node:os';
import pg from 'pg';
import { runBackfill, type BackfillBatchStats } from '../src/data/index.js';
import { connect, startEmbeddedServer } from '../src/db/index.js';
import type { StepCheckpoint } from '../src/steps/step-kind.js';

const sizes = (process.env.BENCH_SIZES ?? '1000000,5000000')
  .split(',')
  .map((s) => Number(s.trim()));
const DB = 'cutover_bench_backfill';

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  let stopServer: (() => Promise<void>) | undefined;
  if (adminUrl === undefined || adminUrl === '') {
    const server = await startEmbeddedServer();
    console.error(`Using the embedded PostgreSQL in ${server.dataDir} on port ${server.port}.`);
    adminUrl = server.url;
    stopServer = () => server.stop();
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${DB}`);
  await admin.query(`create database ${DB}`);
  const url = new URL(adminUrl);
  url.pathname = `/${DB}`;
  const pool = await connect(url.toString(), { max: 4, applicationName: 'cutover bench' });
  try {
    const { rows: version } = await pool.query<{ v: string }>(
      `select current_setting('server_version') as v`,
    );
    console.log(
      `backfill benchmark — PostgreSQL ${version[0]?.v ?? '?'}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1) ?? '?'}`,
    );
    console.log('plain column backfill: SET amount_cents = amount * 100 on every row\n');
    await pool.query('create table bench_checkpoint (id int primary key, value jsonb)');
    const results: {
      rows: number;
      single: number;
      cutover: number;
      p50: number;
      p99: number;
      max: number;
      batches: number;
      size: number;
    }[] = [];
    for (const rows of sizes) {
      for (const table of ['bench_single', 'bench_cutover']) {
        await pool.query(`drop table if exists ${table}`);
        await pool.query(
          `create table ${table} (id bigint primary key, amount int not null, amount_cents bigint)`,
        );
        await pool.query(
          `insert into ${table} select g, (g % 1000)::int, null from generate_series(1, $1::bigint) g`,
          [rows],
        );
        await pool.query(`vacuum (freeze, analyze) ${table}`);
      }
      await pool.query('checkpoint').catch(() => undefined);
      let started = performance.now();
      await pool.query('update bench_single set amount_cents = amount * 100');
      const singleMs = performance.now() - started;

      await pool.query('checkpoint').catch(() => undefined);
      await pool.query('delete from bench_checkpoint');
      const checkpoint: StepCheckpoint = {
        async load<T>() {
          const { rows: saved } = await pool.query<{ value: T }>(
            'select value from bench_checkpoint where id = 1',
          );
          return saved[0]?.value;
        },
        async save<T>(value: T, client?: pg.PoolClient) {
          await (client ?? pool).query(
            'insert into bench_checkpoint values (1, $1) on conflict (id) do update set value = excluded.value',
            [JSON.stringify(value)],
          );
        },
      };
      const batches: BackfillBatchStats[] = [];
      started = performance.now();
      const result = await runBackfill(
        pool,
        { table: 'bench_cutover', set: 'amount_cents = amount * 100' },
        { checkpoint, onBatch: (b) => void batches.push(b) },
      );
      const cutoverMs = performance.now() - started;
      const { rows: check } = await pool.query<{ wrong: number }>(
        `select (select count(*)::int from bench_cutover where amount_cents is distinct from amount * 100)
              + (select count(*)::int from bench_single where amount_cents is distinct from amount * 100) as wrong`,
      );
      if (check[0]?.wrong !== 0) throw new Error(`${check[0]?.wrong} rows were not updated`);
      results.push({
        rows,
        single: (rows * 1000) / singleMs,
        cutover: (result.rows * 1000) / cutoverMs,
        p50: result.batchMs?.p50 ?? 0,
        p99: result.batchMs?.p99 ?? 0,
        max: result.batchMs?.max ?? 0,
        batches: result.batches,
        size: batches.at(-2)?.nextBatchSize ?? 0,
      });
      for (const table of ['bench_single', 'bench_cutover'])
        await pool.query(`drop table ${table}`);
    }
    const header = [
      'rows',
      'single UPDATE',
      'cutover backfill',
      'ratio',
      'batches',
      'batch p50',
      'batch p99',
      'batch max',
      'batch size',
    ];
    const lines = results.map((r) => [
      fmt(r.rows),
      `${fmt(r.single)} rows/s`,
      `${fmt(r.cutover)} rows/s`,
      `${Math.round((r.cutover / r.single) * 100)}%`,
      fmt(r.batches),
      `${Math.round(r.p50)} ms`,
      `${Math.round(r.p99)} ms`,
      `${Math.round(r.max)} ms`,
      fmt(r.size),
    ]);
    const widths = header.map((h, i) =>
      Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)),
    );
    const row = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
    console.log(row(header));
    for (const line of lines) console.log(row(line));
    const first = results[0];
    const last = results.at(-1);
    if (first !== undefined && last !== undefined) {
      const change = (a: number, b: number) =>
        `${b >= a ? '+' : ''}${Math.round(((b - a) / a) * 100)}%`;
      const minRatio = Math.min(...results.map((r) => r.cutover / r.single));
      const maxP99 = Math.max(...results.map((r) => r.p99));
      const flat = Math.abs(last.cutover - first.cutover) / first.cutover;
      console.log(
        `\nthroughput ${fmt(first.rows)} → ${fmt(last.rows)} rows: cutover ${change(first.cutover, last.cutover)}, single UPDATE ${change(first.single, last.single)}`,
      );
      console.log(
        `goals: ratio ≥ 60%: ${minRatio >= 0.6 ? 'met' : 'NOT met'} (${Math.round(minRatio * 100)}%); p99 batch ≤ 250 ms: ${maxP99 <= 250 ? 'met' : 'NOT met'} (${Math.round(maxP99)} ms); flat within ±20%: ${flat <= 0.2 ? 'met' : 'NOT met'} (${change(first.cutover, last.cutover)})`,
      );
    }
  } finally {
    await pool.end();
    await admin.query(`drop database if exists ${DB} with (force)`).catch(() => undefined);
    await admin.end();
    await stopServer?.();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `error: ${error.message}` : error);
  process.exitCode = 1;
});
