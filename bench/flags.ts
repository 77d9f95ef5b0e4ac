/**
 * npm run bench:flags — evaluations per second of cutover's compiled evaluator
 * and of the official Unleash Node SDK (`unleash-client`, run offline from
 * bootstrap data: no refresh, no metrics, no network) on the same three flags
 * and the same 1,000,000 generated contexts, in one run. Prints both rates,
 * the ratio, and whether every result agreed.
 *
 * Options (environment): BENCH_CONTEXTS (default 1000000), BENCH_SEED (default 20240601).
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
const CHUNK = 250_000;

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
  const out: FlagContext[] = new Array<FlagContext>(count);
  for (let i = 0; i < count; i++) {
    const qa = random() < 0.001;
    out[i] = {
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
    };
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

/** Wall-clock and CPU time spent by one engine on one flag. */
interface Spent {
  wallNs: number;
  cpuUs: number;
}

async function timed(spent: Spent, loop: () => void): Promise<void> {
  collectGarbage();
  // Let V8's background threads finish sweeping before the clock starts.
  await sleep(25);
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  loop();
  spent.wallNs += Number(process.hrtime.bigint() - wall);
  const used = process.cpuUsage(cpu);
  spent.cpuUs += used.user + used.system;
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
  const cut: Spent[] = flags.map(() => ({ wallNs: 0, cpuUs: 0 }));
  const unl: Spent[] = flags.map(() => ({ wallNs: 0, cpuUs: 0 }));
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

  const random = prng(SEED);
  const boolsA = new Uint8Array(CHUNK);
  const boolsB = new Uint8Array(CHUNK);
  const variantsA: VariantLike[] = new Array<VariantLike>(CHUNK);
  const variantsB: VariantLike[] = new Array<VariantLike>(CHUNK);
  for (let done = 0; done < CONTEXTS; done += CHUNK) {
    const n = Math.min(CHUNK, CONTEXTS - done);
    const contexts = generate(n, random);
    for (const f of [0, 2] as const) {
      const name = flags[f];
      await timed(cut[f]!, () => {
        for (let i = 0; i < n; i++) boolsA[i] = cutover.isEnabled(name, contexts[i]) ? 1 : 0;
      });
      await timed(unl[f]!, () => {
        for (let i = 0; i < n; i++) {
          boolsB[i] = unleash.isEnabled(name, contexts[i] as UnleashContext) ? 1 : 0;
        }
      });
      for (let i = 0; i < n; i++) {
        if (boolsA[i] !== boolsB[i]) mismatches[f]!++;
        enabledCount[f]! += boolsA[i]!;
      }
    }
    const name = flags[1];
    await timed(cut[1]!, () => {
      for (let i = 0; i < n; i++) variantsA[i] = cutover.getVariant(name, contexts[i]);
    });
    await timed(unl[1]!, () => {
      for (let i = 0; i < n; i++) {
        variantsB[i] = unleash.getVariant(name, contexts[i] as UnleashContext);
      }
    });
    for (let i = 0; i < n; i++) {
      if (!sameVariant(variantsA[i]!, variantsB[i]!)) mismatches[1]!++;
      if (variantsA[i]!.enabled) enabledCount[1]!++;
    }
  }
  unleash.destroy();

  const kinds = [
    'flexibleRollout + 3 constraints (isEnabled)',
    '3 variants + override (getVariant)',
    'segment of 2 constraints (isEnabled)',
  ];
  const sum = (list: Spent[]): Spent =>
    list.reduce((a, b) => ({ wallNs: a.wallNs + b.wallNs, cpuUs: a.cpuUs + b.cpuUs }), {
      wallNs: 0,
      cpuUs: 0,
    });
  const row = (label: string, evaluations: number, a: Spent, b: Spent, agreement: string) => [
    label,
    rate(evaluations, a.cpuUs / 1e6),
    rate(evaluations, b.cpuUs / 1e6),
    `${(b.cpuUs / a.cpuUs).toFixed(1)}x`,
    rate(evaluations, a.wallNs / 1e9),
    rate(evaluations, b.wallNs / 1e9),
    `${(b.wallNs / a.wallNs).toFixed(1)}x`,
    agreement,
  ];
  const rows = flags.map((name, f) =>
    row(
      `${name}: ${kinds[f]}`,
      CONTEXTS,
      cut[f]!,
      unl[f]!,
      `${mismatches[f]} mismatches (${((enabledCount[f]! / CONTEXTS) * 100).toFixed(1)}% on)`,
    ),
  );
  const totalMismatches = mismatches.reduce((a, b) => a + b, 0);
  rows.push(
    row('all three flags', CONTEXTS * 3, sum(cut), sum(unl), `${totalMismatches} mismatches`),
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
    `flag evaluation benchmark: ${CONTEXTS.toLocaleString('en-US')} contexts x 3 flags (seed ${SEED}), node ${process.version}, ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)}`,
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
      ? `every result agreed (${(CONTEXTS * 3).toLocaleString('en-US')} evaluations compared)`
      : `RESULTS DIFFER: ${totalMismatches} of ${(CONTEXTS * 3).toLocaleString('en-US')} evaluations disagree`,
  );
  if (totalMismatches !== 0) process.exitCode = 1;
}

await main();
