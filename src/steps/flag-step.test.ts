import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutFlag } from '../../test/helpers/flag-server.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { CutoverError, isCutoverError } from '../errors/index.js';
import { createFlagStore, type FlagStore } from '../flags/flag-store.js';
import type { Flag } from '../flags/model.js';
import { parsePlanSource } from '../plan/parse-plan.js';
import { planJsonSchema } from '../plan/plan-schema.js';
import type { Plan } from '../plan/plan-types.js';
import { describePlan } from '../runner/describe-plan.js';
import { Runner } from '../runner/runner.js';
import { ensureControlSchema } from '../store/control-schema.js';
import { ControlStore } from '../store/control-store.js';
import { builtinStepKinds } from './builtin-step-kinds.js';
import { createFlagStepKind, type FlagStepOutput, type FlagStepSpec } from './flag-step.js';
import type { CompletedStep, StepContext } from './step-kind.js';
import { createStepKindRegistry, type AnyStepKind } from './step-kind-registry.js';

const kind = createFlagStepKind();
let db: TestDatabase;
let flags: FlagStore;

beforeAll(async () => {
  db = await createTestDatabase('flagstep');
  await ensureControlSchema(db.pool);
  flags = createFlagStore(db.pool);
});
afterAll(async () => {
  await db.drop();
});

interface LoggedEvent {
  type: string;
  details: Record<string, unknown>;
}

/** A step context as the runner builds it, for calling the kind directly. */
function context(
  options: {
    runId?: string;
    stepId?: string;
    environment?: string;
    actor?: string;
    completedSteps?: CompletedStep[];
  } = {},
): StepContext & { events: LoggedEvent[] } {
  const events: LoggedEvent[] = [];
  return {
    runId: options.runId ?? randomUUID(),
    stepId: options.stepId ?? 'rollout.0',
    pool: db.pool,
    databaseUrl: db.url,
    planDir: '/tmp',
    stateDir: '/tmp/.cutover',
    environment: options.environment ?? 'production',
    signal: new AbortController().signal,
    clock: { now: () => Date.now(), sleep: () => Promise.resolve() },
    actor: options.actor ?? 'alice',
    completedSteps: options.completedSteps ?? [],
    events,
    log: (type, details) => {
      events.push({ type, details: details ?? {} });
      return Promise.resolve();
    },
    progress: () => undefined,
    checkpoint: {
      load: () => Promise.resolve(undefined),
      save: () => Promise.resolve(),
    },
  };
}

function spec(body: Record<string, unknown>): FlagStepSpec {
  return kind.schema.parse(body);
}

async function definition(key: string): Promise<Flag | null> {
  return (await flags.find(key))?.flag ?? null;
}

async function createFlag(flag: Flag): Promise<void> {
  await flags.create(flag, { actor: 'setup' });
}

describe('flag step: spec', () => {
  it('accepts a rollout as a number or as "5%", and rejects unknown keys and empty changes', () => {
    expect(spec({ key: 'a', rollout: '5%' }).rollout).toBe(5);
    expect(spec({ key: 'a', rollout: 50 }).rollout).toBe(50);
    const issues = (body: unknown) => {
      const result = kind.schema.safeParse(body);
      return result.success ? [] : result.error.issues.map((i) => i.message);
    };
    expect(issues({ key: 'a', rollout: 101 })).toEqual([
      'expected a whole percentage from 0 to 100, like 5 or "5%"',
    ]);
    expect(issues({ key: 'a', rollout: 2.5 })).toHaveLength(1);
    expect(issues({ key: 'a' })).toEqual(['expected at least one of rollout, enabled, users']);
    expect(issues({ key: 'a', rollout: 5, percent: 5 })).toHaveLength(1);
    expect(issues({ key: 'has space', rollout: 5 })).toHaveLength(1);
    expect(issues({ key: 'a', users: ['x,y'] })).toEqual(['a user id cannot contain a comma']);
  });

  it('is a built-in kind, so plan files and `cutover plan schema` know it', () => {
    const registry = createStepKindRegistry(builtinStepKinds());
    expect(registry.names()).toContain('flag');
    const text = JSON.stringify(planJsonSchema(registry));
    expect(text).toContain('"flag"');
    expect(text).toContain('"rollout"');
    const plan = parsePlanSource(
      'name: p\nphases:\n  - name: rollout\n    steps:\n      - flag: { key: new-dashboard, rollout: 5% }\n',
      { registry, file: 'cutover.yaml', dir: '/tmp', env: {} },
    );
    expect(registry.require('flag').schema.parse(plan.steps[0]?.spec)).toEqual({
      key: 'new-dashboard',
      rollout: 5,
    });
  });
});

describe('flag step: apply and compensate', () => {
  it('applies a change as one version, records the previous one, and compensation restores it exactly', async () => {
    const original = rolloutFlag('exact-restore', 5, {
      owner: 'team-a',
      environments: {
        staging: { enabled: true, strategies: [{ name: 'default', parameters: {} }] },
      },
    });
    await createFlag(original);
    const before = await flags.get('exact-restore');
    const ctx = context({ actor: 'alice' });
    const s = spec({ key: 'exact-restore', rollout: 50, users: ['u1', 'u2'] });
    const output = await kind.apply(s, ctx);
    expect(output).toEqual({
      key: 'exact-restore',
      env: 'production',
      version: before.version + 1,
      previousVersion: before.version,
      changed: true,
      created: false,
      summary: 'rollout 5% → 50%, users none → u1, u2',
    });
    const after = await definition('exact-restore');
    expect(after?.environments.production?.strategies[0]?.parameters?.rollout).toBe('50');
    expect(after?.environments.staging).toEqual(before.flag.environments.staging);

    await kind.compensate!(s, output, ctx);
    expect(await definition('exact-restore')).toEqual(before.flag);
    expect(ctx.events.map((e) => e.type)).toEqual(['flag.changed', 'flag.restored']);
    expect(ctx.events[1]?.details).toMatchObject({
      key: 'exact-restore',
      restoredVersion: before.version,
      stepVersion: before.version + 1,
    });
  });

  it('records the run actor and a reason naming the run and step in the flag audit log, and the version in the run log', async () => {
    await createFlag(rolloutFlag('audited', 0));
    const runId = randomUUID();
    const ctx = context({ runId, stepId: 'rollout.2', actor: 'deploy-bot' });
    const s = spec({ key: 'audited', rollout: 20 });
    const output = await kind.apply(s, ctx);
    await kind.compensate!(s, output, ctx);
    const history = await flags.history('audited');
    expect(history.map((v) => [v.version, v.action, v.actor, v.reason, v.operationId])).toEqual([
      [
        3,
        'restore',
        'deploy-bot',
        `rollback of cutover run ${runId}, step rollout.2`,
        `run:${runId}:rollout.2:compensate`,
      ],
      [2, 'patch', 'deploy-bot', `cutover run ${runId}, step rollout.2`, `run:${runId}:rollout.2`],
      [1, 'create', 'setup', null, null],
    ]);
    const events = await flags.events({ key: 'audited' });
    expect(events.map((e) => [e.action, e.actor, e.version])).toEqual([
      ['restore', 'deploy-bot', 3],
      ['patch', 'deploy-bot', 2],
      ['create', 'setup', 1],
    ]);
    expect(ctx.events[0]).toEqual({
      type: 'flag.changed',
      details: {
        key: 'audited',
        env: 'production',
        version: 2,
        previousVersion: 1,
        changed: true,
        created: false,
        summary: 'rollout 0% → 20%',
      },
    });
  });

  it('defaults the environment to the plan environment, and `env` overrides it', async () => {
    await createFlag({
      key: 'env-default',
      environments: {
        staging: { enabled: false, strategies: [] },
        production: { enabled: false, strategies: [] },
      },
    });
    await kind.apply(
      spec({ key: 'env-default', enabled: true }),
      context({ environment: 'staging' }),
    );
    let flag = await definition('env-default');
    expect([flag?.environments.staging?.enabled, flag?.environments.production?.enabled]).toEqual([
      true,
      false,
    ]);
    await kind.apply(
      spec({ key: 'env-default', env: 'production', enabled: true }),
      context({ environment: 'staging' }),
    );
    flag = await definition('env-default');
    expect(flag?.environments.production?.enabled).toBe(true);
  });

  it('a step that finds the flag already as asked changes nothing and has nothing to compensate', async () => {
    await createFlag(rolloutFlag('already', 30));
    const { version } = await flags.get('already');
    const ctx = context();
    const s = spec({ key: 'already', rollout: 30 });
    const output = await kind.apply(s, ctx);
    expect(output).toMatchObject({ version, previousVersion: version, changed: false });
    expect(ctx.events[0]?.type).toBe('flag.unchanged');
    await kind.compensate!(s, output, ctx);
    expect((await flags.get('already')).version).toBe(version);
  });
});

describe('flag step: a flag that does not exist', () => {
  it('is created with a flexibleRollout at `rollout` (on), and compensation deletes it again', async () => {
    const ctx = context({ environment: 'production' });
    const s = spec({ key: 'created-by-rollout', rollout: 5 });
    const output = await kind.apply(s, ctx);
    expect(output).toMatchObject({
      version: 1,
      previousVersion: 0,
      created: true,
      summary: 'new flag: on, rollout 5%',
    });
    const flag = await definition('created-by-rollout');
    expect(flag).toMatchObject({
      key: 'created-by-rollout',
      type: 'release',
      tags: { category: 'migration' },
      environments: {
        production: {
          enabled: true,
          strategies: [
            {
              name: 'flexibleRollout',
              parameters: { rollout: '5', stickiness: 'default', groupId: 'created-by-rollout' },
            },
          ],
        },
      },
    });
    expect(Object.keys(flag?.environments ?? {})).toEqual(['production']);
    await kind.compensate!(s, output, ctx);
    expect(await flags.find('created-by-rollout')).toBeUndefined();
  });

  it('is created with `create: true` from `enabled`/`users` alone', async () => {
    await kind.apply(spec({ key: 'created-users', users: ['beta-1'], create: true }), context());
    expect((await definition('created-users'))?.environments.production).toEqual({
      enabled: true,
      strategies: [{ name: 'userWithId', parameters: { userIds: 'beta-1' }, constraints: [] }],
    });
  });

  it('fails naming the key and the command that creates it when the step does not create flags', async () => {
    for (const body of [
      { key: 'missing-flag', enabled: true },
      { key: 'missing-flag', rollout: 5, create: false },
    ]) {
      const error = await kind
        .apply(spec(body), context({ stepId: 'rollout.1' }))
        .catch((e: unknown) => e);
      expect(isCutoverError(error)).toBe(true);
      const e = error as CutoverError;
      expect(e.code).toBe('FLAG_NOT_FOUND');
      expect(e.category).toBe('not_found');
      expect(e.message).toContain('"missing-flag"');
      expect(e.message).toContain('rollout.1');
      expect(e.hint).toContain('cutover flags create missing-flag --env production');
      expect(e.hint).toContain('create: true');
    }
    expect(await flags.find('missing-flag')).toBeUndefined();
  });
});

describe('flag step: resume', () => {
  it('re-applying after a crash that followed the commit applies nothing twice and keeps the version to restore', async () => {
    await createFlag(rolloutFlag('crash-after-commit', 5));
    const before = await flags.get('crash-after-commit');
    const runId = randomUUID();
    const s = spec({ key: 'crash-after-commit', rollout: 50 });
    // First attempt: committed, then the process died before the step was recorded done.
    const first = await kind.apply(s, context({ runId }));
    // Someone changes the flag meanwhile; the resumed step must not change it again.
    await flags.patch('crash-after-commit', { rollout: 60 }, { env: 'production', actor: 'bob' });
    const resumed = context({ runId });
    const second = await kind.apply(s, resumed);
    expect(second).toEqual(first);
    expect(resumed.events[0]).toMatchObject({
      type: 'flag.changed',
      details: { alreadyApplied: true, summary: 'rollout 5% → 50%' },
    });
    const history = await flags.history('crash-after-commit');
    expect(history.filter((v) => v.operationId === `run:${runId}:rollout.0`)).toHaveLength(1);
    expect(
      (await definition('crash-after-commit'))?.environments.production?.strategies[0]?.parameters
        ?.rollout,
    ).toBe('60');
    // Compensation restores exactly the version before the step, and says it overwrote bob's change.
    await kind.compensate!(s, second, resumed);
    expect(await definition('crash-after-commit')).toEqual(before.flag);
    expect(resumed.events[1]?.details).toMatchObject({ overwritten: { by: 'bob' } });
  });

  it('a resumed step that created the flag finds its creation by operationId', async () => {
    const runId = randomUUID();
    const s = spec({ key: 'crash-after-create', rollout: 5 });
    const first = await kind.apply(s, context({ runId }));
    const second = await kind.apply(s, context({ runId }));
    expect(second).toEqual(first);
    expect(second).toMatchObject({ created: true, previousVersion: 0, version: 1 });
    expect(await flags.history('crash-after-create')).toHaveLength(1);
  });

  it('compensating a step interrupted before its output was recorded undoes its committed change', async () => {
    await createFlag(rolloutFlag('interrupted', 10));
    const before = await flags.get('interrupted');
    const runId = randomUUID();
    const s = spec({ key: 'interrupted', rollout: 90 });
    await kind.apply(s, context({ runId }));
    const ctx = context({ runId });
    await kind.compensate!(s, undefined, ctx);
    expect(await definition('interrupted')).toEqual(before.flag);
    // Compensation is idempotent too (crash after the restore commit).
    const versions = (await flags.history('interrupted')).length;
    await kind.compensate!(s, undefined, context({ runId }));
    expect(await flags.history('interrupted')).toHaveLength(versions);
    // A step that never committed has nothing to undo.
    await kind.compensate!(s, undefined, context({ runId: randomUUID() }));
    expect(await flags.history('interrupted')).toHaveLength(versions);
  });
});

describe('flag step: describe', () => {
  it('shows the current and the new state and the version compensation restores, counting earlier flag steps of the plan', async () => {
    await createFlag(rolloutFlag('described', 5));
    const { version } = await flags.get('described');
    const first = spec({ key: 'described', rollout: 50 });
    const d1 = await kind.describe(first, context());
    expect(d1.summary).toBe('described (production): rollout 5% → 50%');
    expect(d1.compensation).toBe(`restore version ${version} (rollout 50% → 5%)`);
    const d2 = await kind.describe(
      spec({ key: 'described', rollout: 100 }),
      context({
        stepId: 'rollout.2',
        completedSteps: [{ id: 'rollout.0', kind: 'flag', spec: first, output: undefined }],
      }),
    );
    expect(d2.summary).toBe('described (production): rollout 50% → 100%');
    expect(d2.compensation).toBe(`restore version ${version + 1} (rollout 100% → 50%)`);

    const d3 = await kind.describe(spec({ key: 'not-yet', rollout: 5 }), context());
    expect(d3).toMatchObject({
      summary: 'not-yet (production): new flag: on, rollout 5%',
      compensation: 'delete the flag (restore version 0: it did not exist)',
    });
    await expect(
      kind.describe(spec({ key: 'not-yet', enabled: true }), context()),
    ).rejects.toMatchObject({
      code: 'FLAG_NOT_FOUND',
    });
  });

  it('warns when the flag is off in the environment', async () => {
    await createFlag({
      key: 'off-flag',
      environments: { production: { enabled: false, strategies: [] } },
    });
    const d = await kind.describe(spec({ key: 'off-flag', rollout: 5 }), context());
    expect(d.summary).toBe('off-flag (production): rollout none → 5%');
    expect(d.details?.[0]).toContain('nobody sees the change until it is enabled');
  });
});

describe('flag steps under the runner', () => {
  const registry = createStepKindRegistry(builtinStepKinds());
  const runner = (r = registry): Runner =>
    new Runner({
      pool: db.pool,
      databaseUrl: db.url,
      registry: r,
      actor: 'release-manager',
      leaseTtlMs: 3_000,
      pollMs: 50,
      stateDir: '/tmp/.cutover',
    });
  const plan = (source: string, r = registry): Plan =>
    parsePlanSource(source, { registry: r, file: 'cutover.yaml', dir: '/tmp', env: {} });

  it('rolls back several flag steps on one key in reverse order, ending at the exact definition before the run', async () => {
    await createFlag(rolloutFlag('gradual', 0, { description: 'before the run' }));
    const before = await flags.get('gradual');
    const p = plan(`name: gradual
environment: production
phases:
  - name: rollout
    steps:
      - flag: { key: gradual, rollout: 5 }
      - flag: { key: gradual, rollout: 50, users: [qa-1] }
      - flag: { key: gradual, rollout: 100 }
`);
    const r = runner();
    const result = await r.start(p);
    expect(result.outcome).toBe('completed');
    const outputs = result.steps.map((s) => s.output as FlagStepOutput);
    expect(outputs.map((o) => [o.previousVersion, o.version])).toEqual([
      [before.version, before.version + 1],
      [before.version + 1, before.version + 2],
      [before.version + 2, before.version + 3],
    ]);
    const rolledBack = await r.rollback(result.run.id);
    expect(rolledBack.outcome).toBe('rolled_back');
    expect(await definition('gradual')).toEqual(before.flag);
    const restores = (await flags.history('gradual'))
      .filter((v) => v.action === 'restore')
      .map((v) => v.reason);
    expect(restores).toEqual([
      `rollback of cutover run ${result.run.id}, step rollout.0`,
      `rollback of cutover run ${result.run.id}, step rollout.1`,
      `rollback of cutover run ${result.run.id}, step rollout.2`,
    ]);
    const log = await new ControlStore(db.pool).listEvents(result.run.id);
    const flagEvents = log
      .filter((e) => e.type.startsWith('flag.'))
      .map((e) => `${e.type} ${e.stepId} v${String(e.details.version)}`);
    expect(flagEvents).toEqual([
      `flag.changed rollout.0 v${before.version + 1}`,
      `flag.changed rollout.1 v${before.version + 2}`,
      `flag.changed rollout.2 v${before.version + 3}`,
      `flag.restored rollout.2 v${before.version + 4}`,
      `flag.restored rollout.1 v${before.version + 5}`,
      `flag.restored rollout.0 v${before.version + 6}`,
    ]);
    expect(
      log.filter((e) => e.type.startsWith('flag.')).every((e) => e.actor === 'release-manager'),
    ).toBe(true);
  });

  it('resumes a run that died after the flag change committed without changing the flag twice', async () => {
    await createFlag(rolloutFlag('resumed', 5));
    const before = await flags.get('resumed');
    const flagKind = createFlagStepKind();
    let crash = true;
    const crashing: AnyStepKind = {
      ...(flagKind as unknown as AnyStepKind),
      async apply(s, ctx) {
        const output = await flagKind.apply(s as FlagStepSpec, ctx);
        if (crash) {
          crash = false;
          // What a lost connection looks like to the runner: the run stays `running`.
          throw new CutoverError('DATABASE_UNREACHABLE', 'unavailable', 'simulated crash');
        }
        return output;
      },
    };
    const r2 = createStepKindRegistry([crashing]);
    const p = plan(
      `name: resumed
environment: production
phases:
  - name: rollout
    steps:
      - flag: { key: resumed, rollout: 50 }
`,
      r2,
    );
    const r = runner(r2);
    await expect(r.start(p)).rejects.toMatchObject({ code: 'DATABASE_UNREACHABLE' });
    const store = new ControlStore(db.pool);
    const [run] = await store.listRuns({ planName: 'resumed' });
    expect(run?.status).toBe('running');
    expect((await store.getSteps(run!.id))[0]?.status).toBe('running');

    const resumed = await r.resume(run!.id);
    expect(resumed.outcome).toBe('completed');
    expect(resumed.steps[0]?.attempt).toBe(2);
    expect(resumed.steps[0]?.output).toMatchObject({
      previousVersion: before.version,
      version: before.version + 1,
      changed: true,
    });
    expect((await flags.history('resumed')).map((v) => v.action)).toEqual(['patch', 'create']);

    await r.rollback(run!.id);
    expect(await definition('resumed')).toEqual(before.flag);
  });

  it('fails a run on a missing flag with the clear error and rolls back the earlier flag steps', async () => {
    await createFlag(rolloutFlag('present', 0));
    const before = await flags.get('present');
    const p = plan(`name: missing
environment: production
phases:
  - name: rollout
    steps:
      - flag: { key: present, rollout: 10 }
      - flag: { key: absent-flag, enabled: true }
`);
    const result = await runner().start(p);
    expect(result.outcome).toBe('rolled_back');
    expect(result.error).toMatchObject({ code: 'FLAG_NOT_FOUND', location: 'rollout.1' });
    expect(await definition('present')).toEqual(before.flag);
    expect(await flags.find('absent-flag')).toBeUndefined();
  });

  it('`cutover plan` describes each flag step with its compensation', async () => {
    await createFlag(rolloutFlag('plan-described', 0));
    const p = plan(`name: described-plan
environment: production
phases:
  - name: rollout
    steps:
      - flag: { key: plan-described, rollout: 5 }
      - flag: { key: plan-described, rollout: 50 }
`);
    const description = await describePlan(p, { pool: db.pool, databaseUrl: db.url, registry });
    expect(description.ok).toBe(true);
    expect(
      description.steps.map((s) => [s.description?.summary, s.description?.compensation]),
    ).toEqual([
      ['plan-described (production): rollout 0% → 5%', 'restore version 1 (rollout 5% → 0%)'],
      ['plan-described (production): rollout 5% → 50%', 'restore version 2 (rollout 50% → 5%)'],
    ]);
  });
});
