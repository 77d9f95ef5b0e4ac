/**
 * `npm run bench:propagation` — how fast a flag change reaches every SDK.
 *
 * Starts one `cutover serve` (a child process, so the server and the clients
 * do not share an event loop) on the embedded PostgreSQL (or `DATABASE_URL`),
 * connects 100 cutover SDK clients (`cutover/sdk`, Server-Sent Events), then
 * changes a flag through the admin API 200 times, one after the other, each
 * time waiting until all 100 clients have seen the change. Prints p50/p99/max
 * of "admin request sent → the last of the 100 clients has the new copy".
 *
 * Peer, measured in the same run: the official `unleash-client` (Node) against
 * the same server with its default polling interval (15 s), 100 clients whose
 * start is spread over one interval (as in a real fleet), a few changes.
 *
 * Options: --clients N (100), --changes N (200), --peer-clients N (100),
 * --peer-changes N (3; 0 skips the peer), --peer-interval MS (15000).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Unleash, UnleashEvents, InMemStorageProvider } from 'unleash-client';
import { startEmbeddedServer } from '../src/db/index.js';
import type { EmbeddedServer } from '../src/db/index.js';
import { startServer } from '../src/server/start-server.js';
import { createTokenStore } from '../src/server/token-store.js';
import { createFlagClient } from '../src/sdk/index.js';
import type { FlagClient } from '../src/sdk/index.js';
import { ensureControlSchema } from '../src/store/index.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} needs a whole number`);
  return value;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}

function summary(values: number[]): { p50: number; p99: number; max: number; mean: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
  };
}

const fmtMs = (ms: number): string =>
  ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const clientCount = option('clients', 100);
  const changeCount = option('changes', 200);
  const peerClientCount = option('peer-clients', 100);
  const peerChangeCount = option('peer-changes', 3);
  const peerInterval = option('peer-interval', 15_000);

  // Database: DATABASE_URL as is, or a fresh database on the embedded PostgreSQL.
  let embedded: EmbeddedServer | undefined;
  let databaseUrl = process.env.DATABASE_URL ?? '';
  let dropDatabase: (() => Promise<void>) | undefined;
  let where: string;
  if (databaseUrl === '') {
    embedded = await startEmbeddedServer();
    const name = `cutover_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: embedded.url });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(embedded.url);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    where = `embedded PostgreSQL (${embedded.dataDir}), database ${name}`;
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: embedded?.url });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  } else {
    where = 'DATABASE_URL';
  }

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const settings = await pool.query<{ name: string; setting: string }>(
    `select name, setting from pg_settings where name in ('fsync', 'synchronous_commit') order by name`,
  );
  const durability = settings.rows.map((r) => `${r.name}=${r.setting}`).join(', ');
  await ensureControlSchema(pool);
  const tokens = createTokenStore(pool);
  const suffix = randomBytes(3).toString('hex');
  const adminToken = (
    await tokens.create({ name: `bench-admin-${suffix}`, type: 'admin' }, { actor: 'bench' })
  ).token;
  const clientToken = (
    await tokens.create(
      { name: `bench-client-${suffix}`, type: 'client', environment: 'production' },
      { actor: 'bench' },
    )
  ).token;
  await pool.end();

  let child: ChildProcess | undefined;
  const cutoverClients: FlagClient[] = [];
  const peers: Unleash[] = [];
  const key = `bench-propagation-${suffix}`;
  try {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', databaseUrl],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const serverUrl = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child?.stdout as NodeJS.ReadableStream });
      lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
      child?.once('exit', (code) => reject(new Error(`server exited with code ${String(code)}`)));
    });

    const adminCall = async (path: string, body: unknown): Promise<void> => {
      const response = await fetch(`${serverUrl}${path}`, {
        method: 'POST',
        headers: { authorization: adminToken, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!response.ok)
        throw new Error(`POST ${path} → ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    };
    await adminCall('/api/admin/flags', {
      key,
      description: 'bench:propagation',
      tags: { category: 'bench' },
      environments: {
        production: {
          enabled: true,
          strategies: [
            {
              name: 'flexibleRollout',
              parameters: { rollout: '0', stickiness: 'default', groupId: key },
              constraints: [],
            },
          ],
        },
      },
    });

    console.log(
      `propagation: one cutover serve (child process, ${serverUrl}) on ${where} (${durability}); flag changes through POST /api/admin/flags/:key/rollout`,
    );

    // ── cutover SDK ──────────────────────────────────────────────────────
    const seenAt: number[] = new Array<number>(clientCount).fill(-1);
    let waiting: { count: number; done: () => void } | undefined;
    for (let i = 0; i < clientCount; i += 1) {
      const client = createFlagClient({
        url: serverUrl,
        token: clientToken,
        environment: 'production',
        appName: `bench-${i}`,
        env: false,
      });
      client.on('change', (event) => {
        if (waiting === undefined || seenAt[i] !== -1 || !event.changed.includes(key)) return;
        seenAt[i] = performance.now();
        waiting.count -= 1;
        if (waiting.count === 0) waiting.done();
      });
      cutoverClients.push(client);
    }
    await Promise.all(cutoverClients.map((c) => c.ready(30_000)));
    const hasFlag = (): boolean =>
      cutoverClients.every((c) => c.features()?.features.some((f) => f.name === key) === true);
    while (!hasFlag()) await new Promise((r) => setTimeout(r, 10));
    const streaming = cutoverClients.filter((c) => c.status().state === 'streaming').length;

    const allSeen: number[] = [];
    const perClient: number[] = [];
    const adminAnswered: number[] = [];
    const firstSeen: number[] = [];
    let missed = 0;
    for (let n = 1; n <= changeCount; n += 1) {
      seenAt.fill(-1);
      const done = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000);
        waiting = {
          count: clientCount,
          done: () => {
            clearTimeout(timer);
            resolve(true);
          },
        };
      });
      const t0 = performance.now();
      await adminCall(`/api/admin/flags/${key}/rollout`, {
        rollout: n % 2 === 1 ? 100 : 0,
        env: 'production',
        reason: `bench change ${n}`,
      });
      adminAnswered.push(performance.now() - t0);
      const ok = await done;
      waiting = undefined;
      if (!ok) {
        missed += 1;
        continue;
      }
      allSeen.push(Math.max(...seenAt) - t0);
      firstSeen.push(Math.min(...seenAt) - t0);
      for (const t of seenAt) perClient.push(t - t0);
    }
    const all = summary(allSeen);
    const each = summary(perClient);
    console.log(
      `cutover SDK (SSE push), ${clientCount} clients (${streaming} streaming), ${changeCount} changes (${changeCount - missed} seen by all, ${missed} timed out after 10 s):`,
    );
    console.log(
      `  time until every client saw the change: p50 ${fmtMs(all.p50)}  p99 ${fmtMs(all.p99)}  max ${fmtMs(all.max)}  mean ${fmtMs(all.mean)}`,
    );
    console.log(
      `  per client:                             p50 ${fmtMs(each.p50)}  p99 ${fmtMs(each.p99)}  max ${fmtMs(each.max)}`,
    );
    const answered = summary(adminAnswered);
    const first = summary(firstSeen);
    console.log(
      `  first client:                           p50 ${fmtMs(first.p50)}  p99 ${fmtMs(first.p99)}`,
    );
    console.log(
      `  admin API answered (change committed):  p50 ${fmtMs(answered.p50)}  p99 ${fmtMs(answered.p99)}`,
    );
    await Promise.all(cutoverClients.map((c) => c.close()));
    cutoverClients.length = 0;

    // ── peer: unleash-client, default polling ────────────────────────────
    let peerLine: string;
    let peerP50 = NaN;
    if (peerChangeCount === 0 || peerClientCount === 0) {
      peerLine = `peer skipped (--peer-changes 0); Unleash SDKs poll every 15 s by default: ~7.5 s on average per client, up to 15 s`;
    } else {
      console.log(
        `peer: unleash-client (Node) ${peerClientCount} clients polling every ${peerInterval / 1000} s (the default), starts spread over one interval; ${peerChangeCount} changes — takes about ${Math.round(((peerChangeCount + 1) * peerInterval) / 1000)} s`,
      );
      const peerSeen: number[] = new Array<number>(peerClientCount).fill(-1);
      let peerWaiting: { count: number; done: () => void } | undefined;
      const started: Promise<void>[] = [];
      for (let i = 0; i < peerClientCount; i += 1) {
        const delay = (i / peerClientCount) * peerInterval;
        started.push(
          new Promise<void>((resolve) => {
            setTimeout(() => {
              const unleash = new Unleash({
                url: `${serverUrl}/api/`,
                appName: `peer-${i}`,
                instanceId: `peer-${i}`,
                customHeaders: { Authorization: clientToken },
                refreshInterval: peerInterval,
                disableMetrics: true,
                storageProvider: new InMemStorageProvider(),
              });
              unleash.on(UnleashEvents.Error, () => undefined);
              unleash.on(UnleashEvents.Warn, () => undefined);
              unleash.on(UnleashEvents.Changed, () => {
                if (peerWaiting === undefined || peerSeen[i] !== -1) return;
                peerSeen[i] = performance.now();
                peerWaiting.count -= 1;
                if (peerWaiting.count === 0) peerWaiting.done();
              });
              peers.push(unleash);
              unleash.once(UnleashEvents.Synchronized, () => resolve());
            }, delay);
          }),
        );
      }
      await Promise.all(started);
      const peerAll: number[] = [];
      const peerEach: number[] = [];
      for (let n = 1; n <= peerChangeCount; n += 1) {
        peerSeen.fill(-1);
        const done = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), peerInterval * 3);
          peerWaiting = {
            count: peerClientCount,
            done: () => {
              clearTimeout(timer);
              resolve(true);
            },
          };
        });
        const t0 = performance.now();
        await adminCall(`/api/admin/flags/${key}/rollout`, {
          rollout: n % 2 === 1 ? 100 : 0,
          env: 'production',
          reason: `bench peer change ${n}`,
        });
        const ok = await done;
        peerWaiting = undefined;
        if (!ok) continue;
        peerAll.push(Math.max(...peerSeen) - t0);
        for (const t of peerSeen) peerEach.push(t - t0);
      }
      const pa = summary(peerAll);
      const pe = summary(peerEach);
      peerP50 = pa.p50;
      peerLine =
        `  time until every client saw the change: p50 ${fmtMs(pa.p50)}  p99 ${fmtMs(pa.p99)}  max ${fmtMs(pa.max)}  (${peerAll.length}/${peerChangeCount} changes)\n` +
        `  per client:                             p50 ${fmtMs(pe.p50)}  p99 ${fmtMs(pe.p99)}  max ${fmtMs(pe.max)}  mean ${fmtMs(pe.mean)}`;
    }
    console.log(peerLine);
    if (Number.isFinite(peerP50)) {
      console.log(
        `ratio (peer p50 / cutover p50, time until every client saw the change): ${(peerP50 / all.p50).toFixed(0)}×`,
      );
    }
    console.log(
      `goal p99 < 100 ms: ${all.p99 < 100 && missed === 0 ? 'met' : 'NOT met'} (p99 ${fmtMs(all.p99)}${missed > 0 ? `, ${missed} changes timed out` : ''})`,
    );
  } finally {
    for (const peer of peers) peer.destroy();
    await Promise.all(cutoverClients.map((c) => c.close()));
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await dropDatabase?.();
    await embedded?.stop();
  }
}

// ── child mode: the server ─────────────────────────────────────────────────
if (process.argv[2] === '--serve') {
  const databaseUrl = process.argv[3] ?? '';
  const server = await startServer({ databaseUrl, port: 0 });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  await main();
}
