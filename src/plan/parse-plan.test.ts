import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isCutoverError } from '../errors/index.js';
import { defaultStepKinds } from '../steps/default-step-kinds.js';
import type { StepKind } from '../steps/step-kind.js';
import { createStepKindRegistry } from '../steps/step-kind-registry.js';
import { interpolate } from './interpolate.js';
import { loadPlan, planDatabase } from './load-plan.js';
import { parsePlanSource, type PlanIssue } from './parse-plan.js';
import { planJsonSchema } from './plan-schema.js';

/** A stand-in for the data helper's backfill kind, with a schema of the same shape. */
const backfillKind: StepKind<{ table: string; batchSize: number }, unknown> = {
  name: 'backfill',
  schema: z.strictObject({
    table: z.string().min(1),
    batchSize: z
      .number({ error: 'expected a positive integer' })
      .int({ error: 'expected a positive integer' })
      .positive({ error: 'expected a positive integer' })
      .default(1000),
  }),
  describe: () => Promise.resolve({ summary: 'backfill', compensation: 'none' }),
  apply: () => Promise.resolve({}),
};

const registry = createStepKindRegistry([...defaultStepKinds(), backfillKind]);

function issuesOf(source: string, env: Record<string, string> = {}): PlanIssue[] {
  try {
    parsePlanSource(source, { registry, file: 'cutover.yaml', dir: '/plans', env });
  } catch (error) {
    if (isCutoverError(error) && error.code === 'PLAN_INVALID') {
      return (error.details?.issues ?? []) as PlanIssue[];
    }
    throw error;
  }
  throw new Error('expected the plan to be invalid');
}

function brief(issues: PlanIssue[]): string[] {
  return issues.map(
    (i) => `${i.line}:${i.column} ${i.path === '' ? '' : `${i.path}: `}${i.message}`,
  );
}

const VALID = `name: dashboard-v2
database: \${DATABASE_URL:-}
migrations: ./migrations
environment: production
webhooks:
  - https://hooks.example.com/T000/B000
  - url: https://ops.example.com/cutover
    events: [step_failed, rolled_back]
guards:
  - name: error-rate
    metric: http.error_rate
    cohort: { flag: new-dashboard }
    threshold: "> 5%"
    for: 5m
phases:
  - name: prepare
    steps:
      - sql: { up: "create table t (id int)", down: "drop table t" }
      - backfill: { table: t, batchSize: 500 }
  - name: rollout
    steps:
      - wait: { for: 30m }
      - approve: {}
      - approve:
  - name: contract
    irreversible: true
    steps:
      - notify: { webhook: "https://hooks.example.com/x", message: done }
`;

describe('plan file parsing', () => {
  it('parses a valid plan into ordered steps with ids <phase>.<index> and defaults', () => {
    const plan = parsePlanSource(VALID, { registry, file: 'cutover.yaml', dir: '/plans', env: {} });
    expect(plan.name).toBe('dashboard-v2');
    expect(plan.database).toBeUndefined();
    expect(plan.onFailure).toBe('rollback');
    expect(plan.environment).toBe('production');
    expect(plan.migrations).toEqual({ dir: '/plans/migrations' });
    expect(plan.steps.map((s) => `${s.id}:${s.kind}`)).toEqual([
      'prepare.0:sql',
      'prepare.1:backfill',
      'rollout.0:wait',
      'rollout.1:approve',
      'rollout.2:approve',
      'contract.0:notify',
    ]);
    expect(plan.steps.map((s) => s.position)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(plan.steps[2]?.location).toBe('cutover.yaml:22:9');
    expect(plan.phases.map((p) => p.irreversible)).toEqual([false, false, true]);
    expect(plan.webhooks[0]?.events).toContain('started');
    expect(plan.webhooks[1]?.events).toEqual(['step_failed', 'rolled_back']);
    expect(plan.guards[0]).toMatchObject({
      name: 'error-rate',
      forMs: 300_000,
      severity: 'critical',
    });
    expect(plan.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts the migrate CLI settings object under migrations', () => {
    const plan = parsePlanSource(
      `name: p
migrations:
  dir: db/migrations
  layout: flyway
  lockTimeout: 3s
  statementTimeout: 60000
  lockRetries: 2
  lockWait: 30s
  allowOutOfOrder: true
phases: [{ name: a, steps: [{ wait: { for: 1s } }] }]
`,
      { registry, dir: '/srv', env: {} },
    );
    expect(plan.migrations).toEqual({
      dir: '/srv/db/migrations',
      layout: 'flyway',
      lockTimeoutMs: 3000,
      statementTimeoutMs: 60000,
      lockRetries: 2,
      lockWaitMs: 30000,
      allowOutOfOrder: true,
    });
  });

  it('reports a bad step field with file:line:column and the full path', () => {
    const issues = issuesOf(`name: p
phases:
  - name: a
    steps: [{ wait: { for: 1s } }]
  - name: b
    steps:
      - wait: { for: 1s }
      - wait: { for: 2s }
      - backfill:
          table: t
          batchSize: -5
`);
    expect(brief(issues)).toEqual([
      '11:22 phases[1].steps[2].backfill.batchSize: expected a positive integer',
    ]);
    expect(issues[0]?.file).toBe('cutover.yaml');
  });

  it('reports every problem at once, in file order', () => {
    const issues = issuesOf(`name: p
onFailure: explode
colour: blue
phases:
  - name: a
    steps:
      - sql: { up: "select 1", donw: "select 2" }
      - teleport: { to: mars }
      - wait: { for: soon }
      - { wait: { for: 1s }, approve: {} }
      - 42
  - name: a
    steps: []
`);
    expect(brief(issues)).toEqual([
      '2:12 onFailure: expected one of "rollback", "pause"',
      '3:1 colour: unknown key "colour"',
      '7:32 phases[0].steps[0].sql.donw: unknown key "donw"',
      '8:9 phases[0].steps[1].teleport: unknown step kind "teleport"; known kinds: migrate, sql, wait, approve, notify, backfill',
      '9:22 phases[0].steps[2].wait.for: expected a duration like 30s, 5m or 2h',
      '10:9 phases[0].steps[3]: a step has exactly one kind, found 2 keys (wait, approve); put each in its own list item',
      '11:9 phases[0].steps[4]: expected a step: a mapping with one key naming its kind, e.g. `migrate: { to: "0002" }`',
      '12:11 phases[1].name: duplicate phase name "a" (also phases[0].name)',
      '13:12 phases[1].steps: expected at least one step',
    ]);
  });

  it('reports missing required keys at the mapping that lacks them', () => {
    const issues = issuesOf(`environment: staging
phases:
  - steps:
      - wait: {}
`);
    expect(brief(issues)).toEqual([
      '1:1 name: required',
      '3:5 phases[0].name: required',
      '4:15 phases[0].steps[0].wait.for: required',
    ]);
  });

  it('reports wrong types with what was found', () => {
    const issues = issuesOf(`name: [x]
phases:
  - name: a
    irreversible: "yes"
    steps:
      - approve: { message: 12 }
`);
    expect(brief(issues)).toEqual([
      '1:7 name: expected a string, got a list',
      '4:19 phases[0].irreversible: expected true or false, got "yes"',
      '6:29 phases[0].steps[0].approve.message: expected a string, got 12',
    ]);
  });

  it('reports the matching form of a union (migrations object, webhook object)', () => {
    const issues = issuesOf(`name: p
migrations: { dir: ./m, lockRetries: -1, layout: liquibase }
webhooks:
  - url: ftp://example.com
    events: [started, exploded]
phases: [{ name: a, steps: [{ wait: { for: 1s } }] }]
`);
    expect(brief(issues)).toEqual([
      '2:38 migrations.lockRetries: expected a whole number ≥ 0',
      '2:50 migrations.layout: expected one of "native", "golang-migrate", "flyway", "prisma", "typescript"',
      '4:10 webhooks[0].url: expected an http(s) URL',
      '5:23 webhooks[0].events[1]: expected one of "started", "step_failed", "paused", "failed", "rolled_back", "finished", "approval_needed"',
    ]);
  });

  it('validates guards (stored, not enforced)', () => {
    const issues = issuesOf(`name: p
guards:
  - name: g
    metric: m
    threshold: "about five"
    for: 5m
    severity: fatal
phases: [{ name: a, steps: [{ wait: { for: 1s } }] }]
`);
    expect(brief(issues)).toEqual([
      '5:16 guards[0].threshold: expected a comparison like "> 5%" or ">= 250"',
      '7:15 guards[0].severity: expected one of "critical", "warning", "info"',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const issues = issuesOf(`name: p
phases:
  - name: a
    steps: [ { wait: { for: 1s } }
`);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]?.message).toMatch(/^YAML syntax: /);
    expect(issues[0]?.line).toBeGreaterThanOrEqual(4);
  });

  it('rejects duplicate keys as a YAML error', () => {
    const issues = issuesOf(`name: p
name: q
phases: [{ name: a, steps: [{ wait: { for: 1s } }] }]
`);
    expect(brief(issues)).toEqual(['2:1 YAML syntax: Map keys must be unique']);
  });

  it('rejects a plan that is not a mapping', () => {
    expect(brief(issuesOf('- just\n- a list\n'))).toEqual(['1:1 expected a mapping, got a list']);
  });

  it('throws PLAN_INVALID (config) whose message lists every problem', () => {
    try {
      parsePlanSource('name: p\nphases: []\nextra: 1\n', { registry, file: 'x.yaml', env: {} });
      expect.unreachable();
    } catch (error) {
      expect(isCutoverError(error) && error.code).toBe('PLAN_INVALID');
      if (!isCutoverError(error)) return;
      expect(error.category).toBe('config');
      expect(error.message).toContain('x.yaml:2:9 phases: expected at least one phase');
      expect(error.message).toContain('x.yaml:3:1 extra: unknown key "extra"');
      expect(error.location).toBe('x.yaml');
    }
  });
});

describe('${ENV} interpolation in plans', () => {
  const plan = (source: string, env: Record<string, string>) =>
    parsePlanSource(source, { registry, file: 'cutover.yaml', dir: '/p', env });

  it('replaces variables in any string value, typed like YAML when unquoted', () => {
    const parsed = plan(
      `name: \${PLAN}
database: \${DATABASE_URL}
environment: "\${ENV_NAME:-staging}"
phases:
  - name: a
    steps:
      - backfill:
          table: "\${TABLE}"
          batchSize: \${BATCH}
      - sql: { up: "select '$\${literal}'" }
`,
      { PLAN: 'p1', DATABASE_URL: 'postgres://u@h/db', TABLE: 'users', BATCH: '250' },
    );
    expect(parsed.name).toBe('p1');
    expect(parsed.database).toBe('postgres://u@h/db');
    expect(parsed.environment).toBe('staging');
    expect(parsed.steps[0]?.spec).toEqual({ table: 'users', batchSize: 250 });
    expect(parsed.steps[1]?.spec).toEqual({ up: "select '${literal}'" });
  });

  it('names each missing variable and where it is used', () => {
    const issues = issuesOf(
      `name: p
environment: \${ENV_NAME}
phases:
  - name: a
    steps:
      - notify: { webhook: "\${SLACK_URL}" }
`,
    );
    expect(brief(issues)).toEqual([
      '2:14 environment: environment variable ENV_NAME is not set',
      '6:28 phases[0].steps[0].notify.webhook: environment variable SLACK_URL is not set',
    ]);
  });

  it('accepts an unset variable in database until the database is needed', () => {
    const parsed = plan(
      `name: p
database: \${DATABASE_URL}
phases: [{ name: a, steps: [{ wait: { for: 1s } }] }]
`,
      {},
    );
    expect(parsed.database).toBeUndefined();
    expect(parsed.databaseUnresolved).toEqual({
      variables: ['DATABASE_URL'],
      location: 'cutover.yaml:2:11',
    });
    expect(() => planDatabase(parsed)).toThrow(
      expect.objectContaining({ code: 'PLAN_ENV_MISSING', location: 'cutover.yaml:2:11' }),
    );
  });

  it('leaves strings without references unchanged (property)', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        fc.pre(!text.includes('${'));
        expect(interpolate(text, {}).value).toBe(text);
      }),
    );
  });

  it('turns $${ into a literal ${ and never reads the escaped name (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), fc.string(), (name, value) => {
        const result = interpolate(`$\${${name}} \${${name}}`, { [name]: value });
        expect(result.value).toBe(`\${${name}} ${value}`);
        expect(result.missing).toEqual([]);
      }),
    );
  });
});

describe('plan modules and JSON Schema', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-plan-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a .ts plan module exporting the same object', async () => {
    const file = join(dir, 'cutover.ts');
    await writeFile(
      file,
      `const steps: { wait: { for: string } }[] = [{ wait: { for: '1s' } }];
export default { name: 'ts-plan', environment: '\${ENV_NAME}', phases: [{ name: 'only', steps }] };
`,
    );
    const plan = await loadPlan(file, { registry, cwd: dir, env: { ENV_NAME: 'qa' } });
    expect(plan.name).toBe('ts-plan');
    expect(plan.environment).toBe('qa');
    expect(plan.steps[0]?.id).toBe('only.0');
    expect(plan.file).toBe(file);
    expect(plan.dir).toBe(dir);
  });

  it('reports problems of a .ts plan by path', async () => {
    const file = join(dir, 'bad.ts');
    await writeFile(
      file,
      `export default { name: 'x', phases: [{ name: 'a', steps: [{ wait: {} }] }] };\n`,
    );
    await expect(loadPlan(file, { registry, cwd: dir })).rejects.toMatchObject({
      code: 'PLAN_INVALID',
      details: {
        issues: [{ path: 'phases[0].steps[0].wait.for', message: 'required', file: 'bad.ts' }],
      },
    });
  });

  it('says the plan file is missing (PLAN_NOT_FOUND, config)', async () => {
    await expect(loadPlan(undefined, { registry, cwd: dir })).rejects.toMatchObject({
      code: 'PLAN_NOT_FOUND',
      category: 'config',
      location: 'cutover.yaml',
    });
  });

  it('exports a JSON Schema describing every registered step kind', () => {
    const schema = planJsonSchema(registry);
    const text = JSON.stringify(schema);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    for (const kind of registry.names()) expect(text).toContain(`"${kind}"`);
    expect(text).toContain('"onFailure"');
    expect(text).toContain('"additionalProperties":false');
  });
});
