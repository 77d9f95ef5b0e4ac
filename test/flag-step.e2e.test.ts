import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureDefinition } from '../src/flags/model.js';
import { parsePlanSource } from '../src/plan/index.js';
import { approveStep, Runner } from '../src/runner/index.js';
import { createFlagClient, type FlagClient } from '../src/sdk/index.js';
import {
  builtinStepKinds,
  createApproveStepKind,
  createStepKindRegistry,
} from '../src/steps/index.js';
import { ControlStore, ensureControlSchema } from '../src/store/index.js';
import { rolloutFlag, startFlagServer, type FlagServer } from './helpers/flag-server.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';
import { waitUntil } from './helpers/wait-until.js';

// The built-in kinds, with an approval that notices `cutover approve` quickly.
const registry = createStepKindRegistry([
  ...builtinStepKinds().filter((kind) => kind.name !== 'approve'),
  createApproveStepKind({ pollMs: 50 }),
]);

let db: TestDatabase;
let server: FlagServer;
let client: FlagClient;

beforeAll(async () => {
  db = await createTestDatabase('flagstep_e2e');
  await ensureControlSchema(db.pool);
  server = await startFlagServer(db.url);
  await server.admin(
    'POST',
    '/api/admin/flags',
    rolloutFlag('new-dashboard', 0, {
      description: 'The new dashboard',
      environments: {
        staging: { enabled: true, strategies: [{ name: 'default', parameters: {} }] },
      },
    }),
  );
  client = createFlagClient({
    url: server.url,
    token: server.clientToken,
    environment: 'production',
    env: false,
  });
  await client.ready();
});
afterAll(async () => {
  await client.close();
  await server.stop();
  await db.drop();
});

function feature(key: string): FeatureDefinition | undefined {
  return client.features()?.features.find((f) => f.name === key);
}

function rolloutSeen(key: string): string | number | undefined {
  return feature(key)?.strategies.find((s) => s.name === 'flexibleRollout')?.parameters?.rollout;
}

/** Share of 1,000 user ids the client enables. */
function enabledShare(key: string): number {
  let on = 0;
  for (let i = 0; i < 1000; i++) if (client.isEnabled(key, { userId: `user-${i}` })) on++;
  return on / 1000;
}

describe('flag steps seen by SDK clients of `cutover serve`', () => {
  it('pushes every flag step of a run to connected clients at once, and the rollback restores what they saw before', async () => {
    expect(rolloutSeen('new-dashboard')).toBe('0');
    const before = structuredClone(feature('new-dashboard'));
    expect(client.status().state).toBe('streaming');

    const plan = parsePlanSource(
      `name: dashboard-rollout
environment: production
phases:
  - name: rollout
    steps:
      - flag: { key: new-dashboard, rollout: 5 }
      - approve: { message: check the 5% cohort }
      - flag: { key: new-dashboard, rollout: 100, users: [vip] }
      - flag: { key: brand-new-widget, rollout: 20 }
`,
      { registry, file: 'cutover.yaml', dir: '/tmp', env: {} },
    );
    const runner = new Runner({
      pool: db.pool,
      databaseUrl: db.url,
      registry,
      actor: 'release-manager',
      leaseTtlMs: 3_000,
      pollMs: 50,
      stateDir: '/tmp/.cutover',
    });
    const store = new ControlStore(db.pool);
    const running = runner.start(plan);

    // While the run waits for its approval, the client already evaluates the 5% rollout.
    await waitUntil(() => rolloutSeen('new-dashboard') === '5', { what: 'the client to see 5%' });
    const share = enabledShare('new-dashboard');
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThan(0.2);
    const [run] = await store.listRuns({ planName: 'dashboard-rollout' });
    expect(run?.status).toBe('running');
    await approveStep(store, run!.id, 'boss');

    const result = await running;
    expect(result.outcome).toBe('completed');
    await waitUntil(() => rolloutSeen('new-dashboard') === '100' && feature('brand-new-widget'), {
      what: 'the client to see 100% and the new flag',
    });
    expect(enabledShare('new-dashboard')).toBe(1);
    const widgetShare = enabledShare('brand-new-widget');
    expect(widgetShare).toBeGreaterThan(0.1);
    expect(widgetShare).toBeLessThan(0.3);

    const rolledBack = await runner.rollback(result.run.id);
    expect(rolledBack.outcome).toBe('rolled_back');
    await waitUntil(() => rolloutSeen('new-dashboard') === '0' && !feature('brand-new-widget'), {
      what: 'the client to see the state before the run',
    });
    expect(feature('new-dashboard')).toEqual(before);
    expect(client.isEnabled('new-dashboard', { userId: 'vip' })).toBe(false);
    expect(client.evaluate('brand-new-widget').errorCode).toBe('FLAG_NOT_FOUND');
    // Every copy came over the stream, none from polling.
    expect(client.status()).toMatchObject({ state: 'streaming', source: 'stream' });
    expect(client.status().stats.polls).toBe(0);
  });
});
