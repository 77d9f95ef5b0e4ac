import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { parsePlanSource } from '../plan/parse-plan.js';
import { describePlan } from '../runner/describe-plan.js';
import { Runner } from '../runner/runner.js';
import { ensureControlSchema } from '../store/control-schema.js';
import { defaultStepKinds } from './default-step-kinds.js';
import { createStepKindRegistry } from './step-kind-registry.js';

const registry = createStepKindRegistry(defaultStepKinds());

let db: TestDatabase;
let dir: string;

async function writeMigration(name: string, up: string, down?: string): Promise<void> {
  await writeFile(
    join(dir, 'migrations', name),
    `-- migrate:up\n${up}\n${down === undefined ? '' : `\n-- migrate:down\n${down}\n`}`,
  );
}

beforeAll(async () => {
  db = await createTestDatabase('migstep');
  await ensureControlSchema(db.pool);
  dir = await mkdtemp(join(tmpdir(), 'cutover-migstep-'));
  await mkdir(join(dir, 'migrations'));
  await writeMigration(
    '0001_widgets.sql',
    'create table widgets (id int primary key);',
    'drop table widgets;',
  );
  await writeMigration(
    '0002_widget_name.sql',
    "alter table widgets add column name text not null default 'w';",
    'alter table widgets drop column name;',
  );
  await writeMigration('0003_gadgets.sql', 'create table gadgets (id int);', 'drop table gadgets;');
  await writeMigration('0004_no_down.sql', 'create table keepers (id int);');
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

function runner(): Runner {
  return new Runner({
    pool: db.pool,
    databaseUrl: db.url,
    registry,
    actor: 'tester',
    leaseTtlMs: 3_000,
    pollMs: 50,
  });
}

function plan(name: string, steps: string) {
  return parsePlanSource(
    `name: ${name}
migrations: ./migrations
phases:
  - name: a
    steps:
${steps}`,
    { registry, dir, file: 'cutover.yaml', env: {} },
  );
}

async function tables(): Promise<string[]> {
  const { rows } = await db.pool.query<{ name: string }>(
    `select table_name as name from information_schema.tables where table_schema = 'public' order by 1`,
  );
  return rows.map((r) => r.name);
}

describe('migrate step', () => {
  it('describes pending migrations with the lock each statement takes', async () => {
    const p = plan('describe', '      - migrate: { to: "0002" }\n');
    const description = await describePlan(p, { pool: db.pool, databaseUrl: db.url, registry });
    const step = description.steps[0]!;
    expect(step.error).toBeUndefined();
    expect(step.description?.summary).toBe('Migrate from nothing to 0002: 2 pending migrations.');
    const details = step.description?.details?.join('\n') ?? '';
    expect(details).toContain('0001 widgets — one transaction');
    expect(details).toMatch(/alter table widgets add column name .*lock ACCESS EXCLUSIVE/);
    expect(step.description?.compensation).toContain('migrate down to no migrations');
  });

  it('applies migrations up to `to` with the run id, and rollback migrates down to the version before', async () => {
    const p = plan(
      'migrate-roundtrip',
      `      - migrate: { to: "0001" }
      - migrate: { to: 2 }
      - migrate: { to: "0003" }
`,
    );
    const result = await runner().start(p);
    expect(result.outcome).toBe('completed');
    expect(result.steps.map((s) => s.output)).toEqual([
      { from: null, to: '0001', applied: ['0001'] },
      { from: '0001', to: '2', applied: ['0001', '0002'] },
      { from: '0002', to: '0003', applied: ['0001', '0002', '0003'] },
    ]);
    const { rows } = await db.pool.query<{ version: string; run_id: string }>(
      'select version, run_id from cutover.schema_migrations order by version',
    );
    expect(rows).toEqual([
      { version: '0001', run_id: result.run.id },
      { version: '0002', run_id: result.run.id },
      { version: '0003', run_id: result.run.id },
    ]);
    expect(await tables()).toEqual(['gadgets', 'widgets']);
    const events = (await runner().store.listEvents(result.run.id)).filter(
      (e) => e.type === 'migration.applied',
    );
    expect(events.map((e) => [e.stepId, e.details.version])).toEqual([
      ['a.0', '0001'],
      ['a.1', '0002'],
      ['a.2', '0003'],
    ]);

    const rolled = await runner().rollback(result.run.id);
    expect(rolled.outcome).toBe('rolled_back');
    expect(await tables()).toEqual([]);
    const left = await db.pool.query('select version from cutover.schema_migrations');
    expect(left.rows).toEqual([]);
    const reverted = (await runner().store.listEvents(result.run.id)).filter(
      (e) => e.type === 'migration.reverted',
    );
    expect(reverted.map((e) => [e.stepId, e.details.version])).toEqual([
      ['a.2', '0003'],
      ['a.1', '0002'],
      ['a.0', '0001'],
    ]);
  });

  it('refuses the rollback before changing anything when a migration has no down script', async () => {
    const p = plan('migrate-nodown', '      - migrate: { to: "0004" }\n');
    const result = await runner().start(p);
    expect(result.outcome).toBe('completed');
    await expect(runner().rollback(result.run.id)).rejects.toMatchObject({
      code: 'COMPENSATION_IMPOSSIBLE',
      message: expect.stringContaining('migration 0004 (no_down) has no down script') as string,
    });
    expect(await tables()).toEqual(['gadgets', 'keepers', 'widgets']);
  });
});
