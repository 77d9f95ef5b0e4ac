/**
 * `npm run bench:migrate`: 1,000 small migrations applied to a fresh database
 * by cutover and by node-pg-migrate (its programmatic `runner`), in the same
 * script, on the same server: DATABASE_URL when set, else the embedded
 * PostgreSQL in .cutover/pg.
 *
 * Per-migration overhead = (tool's wall time − the same statements sent one by
 * one in one transaction on one plain connection, the floor) / 1,000, never
 * below 0 (the signed difference is printed too: cutover sends migrations in
 * batches, one round trip per batch, and can beat that floor). cutover runs
 * every migration in its own transaction with lock_timeout and its history
 * row (its defaults); node-pg-migrate runs with its defaults (all pending
 * migrations in ONE transaction, no lock_timeout), and, for reference, with
 * `singleTransaction: false`.
 *
 * Options (env): BENCH_MIGRATIONS (default 1000), BENCH_ROUNDS (default 5;
 * the fastest round of each is reported: load from other processes only adds time).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { startEmbeddedServer } from '../src/db/index.js';
import { Migrator } from '../src/migrate/index.js';

const COUNT = Number(process.env.BENCH_MIGRATIONS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/**
 * One small migration: the cheapest real DDL (a two-column table), so the
 * figures show what the tools add per migration rather than what PostgreSQL
 * spends building indexes.
 */
function statement(i: number): string {
  return `create table t_${String(i).padStart(4, '0')} (id int, note text)`;
}

async function writeCutoverMigrations(dir: string): Promise<void> {
  for (let i = 1; i <= COUNT; i++) {
    const n = String(i).padStart(4, '0');
    await writeFile(
      join(dir, `${n}_t_${n}.sql`),
      `-- migrate:up\n${statement(i)};\n\n-- migrate:down\ndrop table t_${n};\n`,
    );
  }
}

async function writeNodePgMigrations(dir: string): Promise<void> {
  for (let i = 1; i <= COUNT; i++) {
    const n = String(i).padStart(4, '0');
    await writeFile(
      join(dir, `${1_700_000_000_000 + i}_t_${n}.sql`),
      `-- Up Migration\n${statement(i)};\n\n-- Down Migration\ndrop table t_${n};\n`,
    );
  }
}

async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

async function timeRaw(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const start = performance.now();
  await client.query('begin');
  for (let i = 1; i <= COUNT; i++) await client.query(statement(i));
  await client.query('commit');
  const ms = performance.now() - start;
  await client.end();
  return ms;
}

async function timeCutover(url: string, dir: string): Promise<number> {
  const start = performance.now();
  const migrator = new Migrator({ databaseUrl: url, dir });
  const { results, error } = await migrator.up();
  await migrator.close();
  const ms = performance.now() - start;
  if (error !== undefined || results.length !== COUNT) {
    throw new Error(`cutover failed: ${error?.message ?? `${results.length} results`}`);
  }
  return ms;
}

async function timeNodePgMigrate(
  url: string,
  dir: string,
  singleTransaction: boolean,
): Promise<number> {
  const start = performance.now();
  const applied = await runner({
    databaseUrl: url,
    dir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    singleTransaction,
    log: () => undefined,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    },
  });
  const ms = performance.now() - start;
  if (applied.length !== COUNT) throw new Error(`node-pg-migrate applied ${applied.length}`);
  return ms;
}

/**
 * The fastest round: other processes on the machine only ever add time, so
 * the minimum is the least noisy estimate of a tool's own cost.
 */
function best(values: number[]): number {
  return Math.min(...values);
}

async function main(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (adminUrl === undefined || adminUrl === '') {
    const server = await startEmbeddedServer();
    adminUrl = server.url;
    stop = () => server.stop();
    console.log(`embedded PostgreSQL in ${server.dataDir} (port ${server.port})`);
  }
  const root = await mkdtemp(join(tmpdir(), 'cutover-bench-'));
  const cutoverDir = join(root, 'cutover');
  const npmDir = join(root, 'npm');
  await import('node:fs/promises').then((fs) =>
    Promise.all([fs.mkdir(cutoverDir), fs.mkdir(npmDir)]),
  );
  await writeCutoverMigrations(cutoverDir);
  await writeNodePgMigrations(npmDir);
  const times = {
    raw: [] as number[],
    cutover: [] as number[],
    npm: [] as number[],
    npmPerTx: [] as number[],
  };
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const raw = await timeRaw(await freshDatabase(adminUrl, 'bench_raw'));
      const cut = await timeCutover(await freshDatabase(adminUrl, 'bench_cutover'), cutoverDir);
      const npm = await timeNodePgMigrate(await freshDatabase(adminUrl, 'bench_npm'), npmDir, true);
      const npmTx = await timeNodePgMigrate(
        await freshDatabase(adminUrl, 'bench_npm_tx'),
        npmDir,
        false,
      );
      times.raw.push(raw);
      times.cutover.push(cut);
      times.npm.push(npm);
      times.npmPerTx.push(npmTx);
      console.log(
        `round ${round}: raw ${raw.toFixed(0)} ms · cutover ${cut.toFixed(0)} ms · node-pg-migrate ${npm.toFixed(0)} ms (per-migration tx: ${npmTx.toFixed(0)} ms)`,
      );
    }
  } finally {
    for (const name of ['bench_raw', 'bench_cutover', 'bench_npm', 'bench_npm_tx']) {
      await dropDatabase(adminUrl, name).catch(() => undefined);
    }
    await rm(root, { recursive: true, force: true });
    await stop?.();
  }
  const raw = best(times.raw) / COUNT;
  const cut = best(times.cutover) / COUNT;
  const npm = best(times.npm) / COUNT;
  const npmTx = best(times.npmPerTx) / COUNT;
  const overhead = (t: number): number => Math.max(0, t - raw);
  const signed = (t: number): string =>
    t < raw ? ` (${(t - raw).toFixed(3)} ms: below the floor)` : '';
  console.log('');
  console.log(
    'cutover: each migration in its own transaction with lock_timeout and its history row; consecutive migrations sent in batches (one simple-query message of up to 100 migrations, about 250 ms each, stopping at the first failing migration); WAL flush deferred to the last commit of the run.',
  );
  console.log(
    'node-pg-migrate defaults: all pending migrations in one transaction, no lock_timeout.',
  );
  console.log(`${COUNT} migrations, best of ${ROUNDS} rounds, per migration:`);
  console.log(`  statements alone (one connection, one transaction): ${raw.toFixed(3)} ms`);
  console.log(
    `  cutover (own transaction + lock_timeout each):  ${cut.toFixed(3)} ms total, overhead ${overhead(cut).toFixed(3)} ms${signed(cut)}`,
  );
  console.log(
    `  node-pg-migrate (defaults: one transaction):    ${npm.toFixed(3)} ms total, overhead ${overhead(npm).toFixed(3)} ms${signed(npm)}`,
  );
  console.log(
    `  node-pg-migrate (singleTransaction: false):     ${npmTx.toFixed(3)} ms total, overhead ${overhead(npmTx).toFixed(3)} ms${signed(npmTx)}`,
  );
  const ratio = (a: number, b: number): string =>
    b < 0.001 ? (a < 0.001 ? '1.00' : 'n/a (peer overhead below 1 µs)') : (a / b).toFixed(2);
  console.log(
    `  ratio cutover / node-pg-migrate overhead: ${ratio(overhead(cut), overhead(npm))} (defaults), ${ratio(overhead(cut), overhead(npmTx))} (per-migration transactions) — goal ≤ 1`,
  );
}

await main();
