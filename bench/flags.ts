/**
 * npm run bench:flags — evaluations per second of cutover's compiled evaluator
 * and of the official Unleash Node SDK (`unleash-client`, run offline from
 * bootstrap data: no refresh, no metrics, no network) on the same three flags
 * and the same 1,000,000 generated contexts, in one run. Prints both rates,
 * the ratio, and whether every result agreed.
 *
 * Method: the contexts are generated once (seeded PRNG) before timing; both
 * engines are warmed up on other contexts; in each round, for each flag, each
 * engine runs one timed pass over all contexts (isEnabled, or getVariant for the variant
 * flag), storing its results; garbage is collected and background sweeping
 * given time to finish before every timed pass, so neither engine pays for
 * the other's garbage. Rates are reported per CPU-second of the process and
 * per wall-clock second (on a shared machine the CPU figure is the steadier).
 *
 * Options (environment): BENCH_CONTEXTS (default 1000000), BENCH_SEED (default 20240601),
 * BENCH_ROUNDS (default 3; each figure is the median of the rounds).
 */
import { availableParallelism, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { InMemStorageProvider, Unleash, type Context as UnleashContext } from 'unleash-client';
import {
  createEvaluator,
  type ClientFeaturesResponse,
  type FlagContext,
} from '../src/flags/index.js';

const CONTEXTS = Number(process.env.BENCH_CONTEXTS ?? 1_000_000);
const SEED = Number(process.env.BENCH_SEED ?? 20240601);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/**
 * Collects garbage between timed loops (run with --expose-gc, as `npm run bench:flags` does), so
 * that neither engine pays for collecting the other's garbage inside its timed loop.
 */
const collectGarbage: () => void = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

const payload: ClientFeaturesResponse = {
  version: 2,
  features: [
    {
      name: 'checkout-v2',
      description: 'flexibleRollout with constraints',
      enabled: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: '35', stickiness: 'default', groupId: 'checkout-v2' },
          constraints: [
            { contextName: 'environment', operator: 'IN', values: ['production', 'staging'] },
            {
              contextName: 'country',
              operator: 'IN',
              values: ['NO', 'SE', 'DK', 'FI', 'DE', 'FR', 'NL', 'BE', 'ES', 'IT', 'PL', 'GB'],
            },
            { contextName: 'accountAgeDays', operator: 'NUM_GTE', value: '7' },
          ],
        },
      ],
      variants: [],
    },
    {
      name: 'new-dashboard',
      description: 'variant flag',
      enabled: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: '100', stickiness: 'default', groupId: 'new-dashboard' },
          constraints: [],
        },
      ],
      variants: [
        {
          name: 'control',
          weight: 333,
          weightType: 'variable',
          stickiness: 'default',
          payload: { type: 'string', value: 'v1' },
          overrides: [{ contextName: 'userId', values: ['user-qa-1', 'user-qa-2'] }],
        },
        {
          name: 'grid',
          weight: 334,
          weightType: 'variable',
          stickiness: 'default',
          payload: { type: 'json', value: '{"layout":"grid"}' },
        },
        { name: 'list', weight: 333, weightType: 'variable', stickiness: 'default' },
      ],
    },
    {
      name: 'beta-reports',
      description: 'segment-based flag',
      enabled: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: '50', stickiness: 'userId', groupId: 'beta-reports' },
          constraints: [],
          segments: [1],
        },
      ],
      variants: [],
    },
  ],
  segments: [
    {
      id: 1,
      name: 'paying-eu',
      constraints: [
        { contextName: 'plan', operator: 'IN', values: ['pro', 'enterprise'] },
        { contextName: 'region', operator: 'STR_STARTS_WITH', values: ['eu-'] },
      ],
    },
  ],
};

/** mulberry32: a small seeded PRNG so both engines see the same contexts on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ENVIRONMENTS = ['production', 'production', 'staging', 'development'];
const COUNTRIES = ['NO', 'SE', 'US', 'DE', 'FR', 'BR', 'IN', 'GB', 'JP', 'PL', 'ES', 'CA'];
const PLANS = ['free', 'free', 'pro', 'enterprise'];
const REGIONS = ['eu-west-1', 'eu-north-1', 'us-east-1', 'ap-south-1'];

function pick<T>(list: readonly T[], r: number): T {
  return list[Math.floor(r * list.length)]!;
}

function generate(count: number, random: () => number): FlagContext[] {
  // push, not new Array(count): V8 keeps a large pre-sized array in slow (dictionary) mode.
  const out: FlagContext[] = [];
  for (let i = 0; i < count; i++) {
    const qa = random() < 0.001;
    out.push({
      userId: qa
        ? `user-qa-${1 + Math.floor(random() * 2)}`
        : `user-${Math.floor(random() * 1e9).toString(36)}`,
      sessionId: `s-${Math.floor(random() * 1e12).toString(16)}`,
      appName: 'bench',
      environment: pick(ENVIRONMENTS, random()),
      properties: {
        country: pick(COUNTRIES, random()),
        accountAgeDays: String(Math.floor(random() * 30)),
        plan: pick(PLANS, random()),
        region: pick(REGIONS, random()),
      },
    });
  }
  return out;
}

interface VariantLike {
  name: string;
  enabled: boolean;
  feature_enabled?: boolean;
  payload?: { type: string; value: string } | undefined;
}

function sameVariant(a: VariantLike, b: VariantLike): boolean {
  return (
    a.name === b.name &&
    a.enabled === b.enabled &&
    a.feature_enabled === b.feature_enabled &&
    (a.payload?.type ?? null) === (b.payload?.type ?? null) &&
    (a.payload?.value ?? null) === (b.payload?.value ?? null)
  );
}

async function startUnleash(): Promise<Unleash> {
  const unleash = new Unleash({
    appName: 'bench',
    // Never contacted: refreshInterval 0 disables polling, disableMetrics disables registration/metrics.
    url: 'http://127.0.0.1:9/api/',
    refreshInterval: 0,
    disableMetrics: true,
    storageProvider: new InMemStorageProvider(),
    bootstrap: { data: payload.features as never, segments: payload.segments as never },
    skipInstanceCountWarning: true,
  });
  unleash.on('error', (error: unknown) => {
    throw error instanceof Error ? error : new Error(String(error));
  });
  await new Promise<void>((resolve) => unleash.once('ready', () => resolve()));
  return unleash;
}

/** Wall-clock and CPU time of one engine on one flag: one sample per round. */
interface Spent {
  wallNs: number[];
  cpuUs: number[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timed(spent: Spent, loop: () => void): Promise<void> {
  collectGarbage();
  // Let V8's background threads finish sweeping (a heap of ~1 GB) before the clock starts.
  await sleep(250);
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  loop();
  spent.wallNs.push(Number(process.hrtime.bigint() - wall));
  const used = process.cpuUsage(cpu);
  spent.cpuUs.push(used.user + used.system);
}

function rate(evaluations: number, seconds: number): string {
  const perSecond = evaluations / seconds;
  return perSecond >= 1e6
    ? `${(perSecond / 1e6).toFixed(2)} M/s`
    : `${(perSecond / 1e3).toFixed(0)} k/s`;
}

async function main(): Promise<void> {
  const cutover = createEvaluator(payload);
  const unleash = await startUnleash();
  const flags = ['checkout-v2', 'new-dashboard', 'beta-reports'] as const;
  const cut: Spent[] = flags.map(() => ({ wallNs: [], cpuUs: [] }));
  const unl: Spent[] = flags.map(() => ({ wallNs: [], cpuUs: [] }));
  const mismatches = [0, 0, 0];
  const enabledCount = [0, 0, 0];

  // Warm-up on other contexts (both engines), not timed.
  const warm = generate(50_000, prng(SEED ^ 0x5bd1e995));
  for (let round = 0; round < 3; round++) {
    for (const c of warm) {
      cutover.isEnabled(flags[0], c);
      cutover.getVariant(flags[1], c);
      cutover.isEnabled(flags[2], c);
    }
  }
  for (const c of warm) {
    unleash.isEnabled(flags[0], c as UnleashContext);
    unleash.getVariant(flags[1], c as UnleashContext);
    unleash.isEnabled(flags[2], c as UnleashContext);
  }

  // The same contexts for both engines, generated once (not timed).
  const contexts = generate(CONTEXTS, prng(SEED));
  const n = contexts.length;
  const bitsA = new Uint8Array(n);
  const bitsB = new Uint8Array(n);
  // Packed arrays (filled by push) for the variant results.
  const packed = <T>(value: T): T[] => {
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(value);
    return out;
  };
  const namesA = packed('');
  const namesB = packed('');
  const payloadsA = packed<VariantLike['payload']>(undefined);
  const payloadsB = packed<VariantLike['payload']>(undefined);
  for (let round = 0; round < ROUNDS; round++) {
    for (const f of [0, 1, 2] as const) {
      const name = flags[f];
      if (f === 1) {
        // Variants: keep name, payload and flags of each result (not the result objects themselves).
        await timed(cut[f]!, () => {
          for (let i = 0; i < n; i++) {
            const v = cutover.getVariant(name, contexts[i]);
            namesA[i] = v.name;
            payloadsA[i] = v.payload;
            bitsA[i] = (v.enabled ? 1 : 0) | (v.feature_enabled ? 2 : 0);
          }
        });
        await timed(unl[f]!, () => {
          for (let i = 0; i < n; i++) {
            const v = unleash.getVariant(name, contexts[i] as UnleashContext);
            namesB[i] = v.name;
            payloadsB[i] = v.payload;
            bitsB[i] = (v.enabled ? 1 : 0) | (v.feature_enabled ? 2 : 0);
          }
        });
        for (let i = 0; i < n; i++) {
          const same =
            bitsA[i] === bitsB[i] &&
            sameVariant(
              { name: namesA[i]!, enabled: true, payload: payloadsA[i] },
              { name: namesB[i]!, enabled: true, payload: payloadsB[i] },
            );
          if (!same) mismatches[f]!++;
          if (round === 0) enabledCount[f]! += bitsA[i]! & 1;
        }
      } else {
        await timed(cut[f]!, () => {
          for (let i = 0; i < n; i++) bitsA[i] = cutover.isEnabled(name, contexts[i]) ? 1 : 0;
        });
        await timed(unl[f]!, () => {
          for (let i = 0; i < n; i++) {
            bitsB[i] = unleash.isEnabled(name, contexts[i] as UnleashContext) ? 1 : 0;
          }
        });
        for (let i = 0; i < n; i++) {
          if (bitsA[i] !== bitsB[i]) mismatches[f]!++;
          if (round === 0) enabledCount[f]! += bitsA[i]!;
        }
      }
    }
  }
  unleash.destroy();

  const kinds = [
    'flexibleRollout + 3 constraints (isEnabled)',
    '3 variants + override (getVariant)',
    'segment of 2 constraints (isEnabled)',
  ];
  /** Median seconds per round of one engine on one flag, or summed over flags. */
  interface Seconds {
    cpu: number;
    wall: number;
  }
  const seconds = (spent: Spent): Seconds => ({
    cpu: median(spent.cpuUs) / 1e6,
    wall: median(spent.wallNs) / 1e9,
  });
  const total = (list: Spent[]): Seconds =>
    list.map(seconds).reduce((a, b) => ({ cpu: a.cpu + b.cpu, wall: a.wall + b.wall }));
  const row = (label: string, evaluations: number, a: Seconds, b: Seconds, agreement: string) => [
    label,
    rate(evaluations, a.cpu),
    rate(evaluations, b.cpu),
    `${(b.cpu / a.cpu).toFixed(1)}x`,
    rate(evaluations, a.wall),
    rate(evaluations, b.wall),
    `${(b.wall / a.wall).toFixed(1)}x`,
    agreement,
  ];
  const rows = flags.map((name, f) =>
    row(
      `${name}: ${kinds[f]}`,
      CONTEXTS,
      seconds(cut[f]!),
      seconds(unl[f]!),
      `${mismatches[f]} mismatches (${((enabledCount[f]! / CONTEXTS) * 100).toFixed(1)}% on)`,
    ),
  );
  const totalMismatches = mismatches.reduce((a, b) => a + b, 0);
  rows.push(
    row('all three flags', CONTEXTS * 3, total(cut), total(unl), `${totalMismatches} mismatches`),
  );
  const header = [
    'flag',
    'cutover',
    'unleash-client',
    'ratio',
    'cutover',
    'unleash-client',
    'ratio',
    'agreement',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const cpuWidth = widths[1]! + widths[2]! + widths[3]! + 4;
  const wallWidth = widths[4]! + widths[5]! + widths[6]! + 4;
  console.log(
    `flag evaluation benchmark: ${CONTEXTS.toLocaleString('en-US')} contexts x 3 flags, median of ${ROUNDS} rounds (seed ${SEED}), node ${process.version}, ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log('');
  console.log(
    `${' '.repeat(widths[0]!)}  ${'evaluations per CPU-second'.padEnd(cpuWidth)}  ${'evaluations per wall-clock second'.padEnd(wallWidth)}`.trimEnd(),
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('');
  console.log(
    totalMismatches === 0
      ? `every result agreed (${(CONTEXTS * 3 * ROUNDS).toLocaleString('en-US')} evaluations compared)`
      : `RESULTS DIFFER: ${totalMismatches} of ${(CONTEXTS * 3 * ROUNDS).toLocaleString('en-US')} evaluations disagree`,
  );
  if (totalMismatches !== 0) process.exitCode = 1;
}

await main();
