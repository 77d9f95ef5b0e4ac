import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDashboards } from '../../examples/dashboard-v2/src/generate-dashboards.js';
import { createFlagStore } from '../../src/flags/index.js';
import { loadPlan } from '../../src/plan/index.js';
import { Runner } from '../../src/runner/index.js';
import { builtinStepKinds, createStepKindRegistry } from '../../src/steps/index.js';
import { ensureControlSchema } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const example = join(import.meta.dirname, '..', '..', 'examples', 'dashboard-v2');
const registry = createStepKindRegistry(builtinStepKinds());

let db: TestDatabase;
let stateDir: string;

/** md5 of every row of every user table (schema public), by table. */
async function publicChecksums(): Promise<Record<string, string>> {
  const { rows: tables } = await db.pool.query<{ name: string }>(
    `select tablename as name from pg_tables where schemaname = 'public' order by 1`,
  );
  const sums: Record<string, string> = {};
  for (const { name } of tables) {
    const { rows } = await db.pool.query<{ sum: string }>(
      `select coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as sum from public."${name}" t`,
    );
    sums[name] = rows[0]?.sum ?? '';
  }
  return sums;
}

function runner(): Runner {
  return new Runner({ pool: db.pool, databaseUrl: db.url, registry, stateDir, actor: 'test' });
}

beforeAll(async () => {
  db = await createTestDatabase('dashplan');
  stateDir = await mkdtemp(join(tmpdir(), 'cutover-dashplan-'));
  await ensureControlSchema(db.pool);
  await generateDashboards(db.pool, { users: 2000, seed: 11 });
});
afterAll(async () => {
  await db.drop();
  await rm(stateDir, { recursive: true, force: true });
});

describe('the dashboard-v2 plan under the runner', () => {
  it('runs prepare and expand, then rolls back to the exact tables it started from', async () => {
    const before = await publicChecksums();
    const plan = await loadPlan(join(example, 'cutover.yaml'), { registry, env: {} });
    const r = runner();
    const result = await r.start(plan, { untilPhase: 'expand' });
    expect(result.outcome).toBe('paused');
    const verify = result.steps.find((s) => s.kind === 'verify');
    expect(verify?.output).toMatchObject({ passed: true, critical: [], warnings: [] });
    const backfill = result.steps.find((s) => s.kind === 'backfill');
    expect(backfill?.output).toMatchObject({ rows: 2000 });

    const rolledBack = await r.rollback(result.run.id);
    expect(rolledBack.outcome).toBe('rolled_back');
    expect(await publicChecksums()).toEqual(before);
  });

  it('runs to the end with --yes, after which rollback refuses (point of no return)', async () => {
    const plan = await loadPlan(join(example, 'cutover.yaml'), { registry, env: {} });
    const r = runner();
    const result = await r.start(plan, { autoApprove: true });
    expect(result.outcome).toBe('completed');
    const { rows } = await db.pool.query(
      `select to_regclass('legacy_dashboard_configs') as legacy, (select count(*)::int from dashboard_configurations) as configurations`,
    );
    expect(rows).toEqual([{ legacy: null, configurations: 2000 }]);
    // The rollout phase created flag new-dashboard and took it to 100% in the plan's environment.
    const flag = await createFlagStore(db.pool).get('new-dashboard');
    expect(flag.flag.environments.demo?.strategies[0]?.parameters?.rollout).toBe('100');
    expect(flag.version).toBe(3);
    await expect(r.rollback(result.run.id)).rejects.toMatchObject({
      code: 'ROLLBACK_PAST_POINT_OF_NO_RETURN',
    });
  });
});
