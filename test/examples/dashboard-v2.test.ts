import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  ensureDashboardData,
  generateDashboards,
} from '../../examples/dashboard-v2/src/generate-dashboards.js';
import {
  loadBackfillModule,
  memoryCheckpoint,
  revertBackfill,
  runBackfill,
  runVerification,
  verificationChecksSchema,
  type VerificationCheck,
} from '../../src/data/index.js';
import { Migrator } from '../../src/migrate/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const example = join(import.meta.dirname, '..', '..', 'examples', 'dashboard-v2');
const USERS = 5000;

let db: TestDatabase;
let checks: VerificationCheck[];

/** The verify step of the example plan, parsed with the verify step's schema. */
async function planChecks(): Promise<VerificationCheck[]> {
  const plan = parse(await readFile(join(example, 'cutover.yaml'), 'utf8')) as {
    phases: { steps: Record<string, unknown>[] }[];
  };
  const step = plan.phases.flatMap((p) => p.steps).find((s) => 'verify' in s);
  return verificationChecksSchema.parse(step?.verify);
}

async function migrateTo(version: string): Promise<void> {
  const migrator = new Migrator({ databaseUrl: db.url, dir: join(example, 'migrations') });
  try {
    const result = await migrator.up({ to: version });
    expect(result.error).toBeUndefined();
  } finally {
    await migrator.close();
  }
}

beforeAll(async () => {
  db = await createTestDatabase('dashv2');
  checks = await planChecks();
});
afterAll(async () => {
  await db.drop();
});

describe('dashboard-v2 example', () => {
  it('generates messy legacy data deterministically, once', async () => {
    expect(await generateDashboards(db.pool, { users: USERS, seed: 7 })).toBe(USERS);
    expect(await ensureDashboardData(db.pool, { users: USERS, seed: 7 })).toBe(0);
    const { rows } = await db.pool.query<Record<string, number>>(`
      select count(*)::int as docs,
             count(*) filter (where jsonb_typeof(config) = 'string')::int as double_encoded,
             count(*) filter (where config ? 'grid_columns')::int as v1,
             count(*) filter (where config -> 'gridColumns' = '"12"')::int as string_columns
        from legacy_dashboard_configs`);
    expect(rows[0]?.docs).toBe(USERS);
    expect(rows[0]?.double_encoded).toBeGreaterThan(0);
    expect(rows[0]?.v1).toBeGreaterThan(0);
    expect(rows[0]?.string_columns).toBeGreaterThan(0);
    const { rows: widgets } = await db.pool.query<{ n: number; max: number }>(`
      select count(*)::int as n, max(jsonb_array_length(config -> 'widgets'))::int as max
        from legacy_dashboard_configs where jsonb_typeof(config -> 'widgets') = 'array'`);
    expect(widgets[0]?.max).toBe(12);

    // Same seed, same data: a second database gets identical documents.
    const other = await createTestDatabase('dashv2b');
    try {
      await generateDashboards(other.pool, { users: 300, seed: 7 });
      const sum = async (pool: typeof db.pool) =>
        (
          await pool.query<{ s: string }>(
            `select md5(string_agg(user_id || ':' || config::text, ',' order by user_id)) as s
               from legacy_dashboard_configs where user_id <= 300`,
          )
        ).rows[0]?.s;
      expect(await sum(other.pool)).toBe(await sum(db.pool));
    } finally {
      await other.drop();
    }
  });

  it('expands, backfills every document (resuming after a stop) and passes every verification check', async () => {
    await migrateTo('20240601000002');
    const module = await loadBackfillModule(join(example, 'backfills', 'dashboard-configs.ts'));
    const checkpoint = memoryCheckpoint();
    const controller = new AbortController();
    await expect(
      runBackfill(db.pool, module, {
        checkpoint,
        signal: controller.signal,
        onBatch: (b) => {
          if (b.batch === 3) controller.abort(new Error('stop'));
        },
      }),
    ).rejects.toThrow('stop');
    const result = await runBackfill(db.pool, module, { checkpoint });
    expect(result.rows).toBe(USERS);
    expect(result.resumedAfter).toBeDefined();

    const report = await runVerification(db.pool, checks);
    expect(report.critical).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.passed).toBe(true);
    const names = report.checks.map((c) => [c.name, c.passed]);
    expect(names).toContainEqual(['every user migrated', true]);
    expect(names).toContainEqual(['widgets match the documented rules (checksums)', true]);
    // The info check lists the unknown widget types that were kept hidden.
    expect(report.info[0]?.name).toBe('widgets of unknown types (kept, hidden)');
    expect(JSON.stringify(report.info[0]?.details)).toContain('weather_v1');

    const { rows } = await db.pool.query<{
      widgets: number;
      unknown_visible: number;
      notes: number;
    }>(`
      select (select count(*)::int from dashboard_widgets) as widgets,
             (select count(*)::int from dashboard_widgets where not known_type and visible) as unknown_visible,
             (select count(*)::int from dashboard_configurations where 'duplicate_widget_id' = any(migration_notes)) as notes`);
    expect(rows[0]?.widgets).toBeGreaterThan(USERS * 4);
    expect(rows[0]?.unknown_visible).toBe(0);
    expect(rows[0]?.notes).toBeGreaterThan(0);
  });

  it('names the users and widgets a wrong backfill got wrong', async () => {
    // A wrong theme for user 42, and the widgets of one user lost.
    await db.pool.query(
      `update dashboard_configurations set theme = case theme when 'dark' then 'light' else 'dark' end where user_id = 42`,
    );
    const { rows: gone } = await db.pool.query<{ user_id: string }>(
      `delete from dashboard_widgets where user_id = (select min(user_id) from dashboard_widgets where user_id > 100) returning user_id`,
    );
    const report = await runVerification(db.pool, checks);
    expect(report.passed).toBe(false);
    const settings = report.critical.find((c) => c.name.startsWith('dashboard settings'));
    expect(settings?.differences).toEqual([{ key: { user_id: '42' }, issue: 'different' }]);
    const widgetCheck = report.critical.find((c) => c.name.startsWith('widgets match'));
    const missingUser = gone[0]?.user_id;
    expect(
      widgetCheck?.differences?.every(
        (d) => d.key.user_id === missingUser && d.issue === 'missing_in_target',
      ),
    ).toBe(true);
    const counts = report.critical.find((c) => c.name.startsWith('widget counts'));
    expect(JSON.stringify(counts?.details)).toContain(`"user_id":"${missingUser}"`);
  });

  it('keeps each user to their own dashboard with row-level security', async () => {
    const role = `dash_app_${randomBytes(4).toString('hex')}`;
    await db.pool.query(
      `create role ${role}; grant select on dashboard_configurations, dashboard_widgets to ${role}`,
    );
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query(`set local role ${role}`);
      await client.query(`select set_config('app.user_id', '7', true)`);
      const { rows } = await client.query<{ users: string[] }>(
        `select array(select distinct user_id::text from dashboard_widgets union select user_id::text from dashboard_configurations) as users`,
      );
      expect(rows[0]?.users).toEqual(['7']);
      await client.query(`select set_config('app.user_id', '', true)`);
      const { rows: none } = await client.query(
        'select count(*)::int as n from dashboard_configurations',
      );
      expect(none).toEqual([{ n: 0 }]);
      await client.query('rollback');
    } finally {
      client.release();
      await db.pool.query(
        `revoke all on dashboard_configurations, dashboard_widgets from ${role}; drop role ${role}`,
      );
    }
  });

  it('reverts the backfill, and the contract migration drops the legacy table', async () => {
    const module = await loadBackfillModule(join(example, 'backfills', 'dashboard-configs.ts'));
    const reverted = await revertBackfill(db.pool, module);
    expect(reverted.rows).toBe(USERS);
    const { rows } = await db.pool.query<{ c: number; w: number }>(
      'select (select count(*)::int from dashboard_configurations) as c, (select count(*)::int from dashboard_widgets) as w',
    );
    expect(rows[0]).toEqual({ c: 0, w: 0 });
    await migrateTo('20240601000003');
    const { rows: legacy } = await db.pool.query(
      `select to_regclass('legacy_dashboard_configs') as t`,
    );
    expect(legacy).toEqual([{ t: null }]);
  });
});
