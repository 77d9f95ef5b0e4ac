import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli-process.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('plancli');
  dir = await mkdtemp(join(tmpdir(), 'cutover-plancli-'));
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('cutover plan', () => {
  it('lists every problem of a bad plan with file:line:column and exits 2', async () => {
    await writeFile(
      join(dir, 'bad.yaml'),
      `name: bad
phases:
  - name: a
    steps:
      - wait: { for: never }
      - sql: { upp: "select 1" }
`,
    );
    const result = await runCli(['plan', 'bad.yaml', '--database-url', db.url], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error PLAN_INVALID: Plan bad.yaml is invalid (3 problems):');
    expect(result.stderr).toContain(
      'bad.yaml:5:22 phases[0].steps[0].wait.for: expected a duration like 30s, 5m or 2h',
    );
    expect(result.stderr).toContain('bad.yaml:6:14 phases[0].steps[1].sql.up: required');
    expect(result.stderr).toContain('bad.yaml:6:16 phases[0].steps[1].sql.upp: unknown key "upp"');
    const json = await runCli(['plan', 'bad.yaml', '--json', '--database-url', db.url], {
      cwd: dir,
    });
    expect(json.code).toBe(2);
    const body = JSON.parse(json.stdout) as {
      ok: boolean;
      error: { code: string; details: { issues: unknown[] } };
    };
    expect(body.ok).toBe(false);
    expect(body.error.code).toBe('PLAN_INVALID');
    expect(body.error.details.issues).toHaveLength(3);
  });

  it('describes each step and its compensation; run --dry-run changes nothing', async () => {
    await writeFile(
      join(dir, 'cutover.yaml'),
      `name: good
phases:
  - name: a
    steps:
      - sql: { up: "create table dry_run_table (id int)", down: "drop table dry_run_table" }
      - wait: { for: 10m }
  - name: b
    irreversible: true
    steps:
      - approve: { message: look first }
`,
    );
    const plan = await runCli(['plan', '--database-url', db.url], { cwd: dir });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('Plan good (cutover.yaml): 3 steps in 2 phases');
    expect(plan.stdout).toContain('a.0  sql');
    expect(plan.stdout).toContain('compensation: run `down`: drop table dry_run_table');
    expect(plan.stdout).toContain('Wait 10m');
    expect(plan.stdout).toContain('Phase b — IRREVERSIBLE');
    const dry = await runCli(['run', '--dry-run', '--json', '--database-url', db.url], {
      cwd: dir,
    });
    expect(dry.code).toBe(0);
    const body = JSON.parse(dry.stdout) as { dryRun: boolean; steps: { id: string }[] };
    expect(body.dryRun).toBe(true);
    expect(body.steps.map((s) => s.id)).toEqual(['a.0', 'a.1', 'b.0']);
    const { rows } = await db.pool.query(
      `select 1 from information_schema.tables where table_name = 'dry_run_table'
       union all select 1 from cutover.runs`,
    );
    expect(rows).toEqual([]);
  });

  it('prints the JSON Schema of plans', async () => {
    const result = await runCli(['plan', 'schema'], { cwd: dir });
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['name', 'phases', 'onFailure', 'webhooks', 'guards', 'migrations']),
    );
    for (const kind of [
      'snapshot',
      'backup',
      'migrate',
      'sql',
      'backfill',
      'verify',
      'wait',
      'approve',
      'notify',
    ]) {
      expect(result.stdout).toContain(`"${kind}"`);
    }
  });
});
