import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { waitUntil } from '../../test/helpers/wait-until.js';
import { startWebhookServer, type WebhookServer } from '../../test/helpers/webhook-server.js';
import { isCutoverError } from '../errors/index.js';
import { parsePlanSource } from '../plan/parse-plan.js';
import type { Plan } from '../plan/plan-types.js';
import { ensureControlSchema } from '../store/control-schema.js';
import { ControlStore } from '../store/control-store.js';
import { createApproveStepKind } from '../steps/approve-step.js';
import { defaultStepKinds } from '../steps/default-step-kinds.js';
import { createStepKindRegistry } from '../steps/step-kind-registry.js';
import { approveStep, requestStop } from './run-control.js';
import { Runner, type RunnerOptions } from './runner.js';

const registry = createStepKindRegistry([
  ...defaultStepKinds().filter((k) => k.name !== 'approve'),
  createApproveStepKind({ pollMs: 50 }),
]);

let db: TestDatabase;
let store: ControlStore;

beforeAll(async () => {
  db = await createTestDatabase('runner');
  await ensureControlSchema(db.pool);
  store = new ControlStore(db.pool);
  await db.pool.query('create table journal (id serial primary key, entry text not null)');
});
afterAll(async () => {
  await db.drop();
});

function plan(source: string): Plan {
  return parsePlanSource(source, { registry, file: 'cutover.yaml', dir: '/tmp', env: {} });
}

function runner(options: Partial<RunnerOptions> = {}): Runner {
  return new Runner({
    pool: db.pool,
    databaseUrl: db.url,
    registry,
    actor: 'tester',
    leaseTtlMs: 3_000,
    pollMs: 50,
    stateDir: '/tmp/.cutover',
    ...options,
  });
}

/** A sql step that journals `name` on up and `undo name` on down. */
function journaled(name: string, withDown = true): string {
  return `      - sql:
          up: "insert into journal (entry) values ('${name}')"
${withDown ? `          down: "insert into journal (entry) values ('undo ${name}')"\n` : ''}`;
}

async function journal(prefix: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ entry: string }>(
    `select entry from journal where entry like $1 or entry like $2 order by id`,
    [`${prefix}%`, `undo ${prefix}%`],
  );
  return rows.map((r) => r.entry);
}

async function eventTypes(runId: string): Promise<string[]> {
  return (await store.listEvents(runId)).map((e) => `${e.type}${e.stepId ? ` ${e.stepId}` : ''}`);
}

describe('runner', () => {
  it('executes steps in order and persists each transition with an audit event', async () => {
    const p = plan(`name: order
phases:
  - name: one
    steps:
${journaled('order a')}${journaled('order b')}  - name: two
    steps:
${journaled('order c')}`);
    const result = await runner().start(p);
    expect(result.outcome).toBe('completed');
    expect(result.run.status).toBe('completed');
    expect(await journal('order')).toEqual(['order a', 'order b', 'order c']);
    expect(result.steps.map((s) => [s.stepId, s.status, s.attempt])).toEqual([
      ['one.0', 'completed', 1],
      ['one.1', 'completed', 1],
      ['two.0', 'completed', 1],
    ]);
    expect(result.steps[0]?.output).toEqual({ applied: true });
    expect(await eventTypes(result.run.id)).toEqual([
      'run.started',
      'step.started one.0',
      'step.completed one.0',
      'step.started one.1',
      'step.completed one.1',
      'step.started two.0',
      'step.completed two.0',
      'run.completed',
    ]);
    const events = await store.listEvents(result.run.id);
    expect(events.every((e) => e.actor === 'tester')).toBe(true);
    expect(await store.getLease('plan:order')).toBeUndefined();
  });

  it('refuses a second run of a plan while the first holds the lease, naming the holder', async () => {
    const p = plan(`name: busy
phases:
  - name: a
    steps:
      - approve: {}
`);
    const first = runner({ owner: { host: 'host-a', pid: 4242 }, isProcessAlive: () => true });
    const running = first.start(p);
    await waitUntil(
      async () => (await store.listRuns({ planName: 'busy' }))[0]?.status === 'running',
    );
    const error = await runner()
      .start(p)
      .catch((e: unknown) => e);
    expect(isCutoverError(error) && error.code).toBe('LEASE_HELD');
    if (!isCutoverError(error)) return;
    expect(error.category).toBe('busy');
    expect(error.message).toContain('pid 4242 on host-a');
    const run = (await store.listRuns({ planName: 'busy' }))[0]!;
    expect(error.message).toContain(run.id.slice(0, 8));
    const resumeError = await runner()
      .resume(run.id)
      .catch((e: unknown) => e);
    expect(isCutoverError(resumeError) && resumeError.code).toBe('LEASE_HELD');
    await approveStep(store, run.id, 'boss');
    expect((await running).outcome).toBe('completed');
  });

  it('refuses a new run while an earlier run of the plan is unfinished', async () => {
    const p = plan(`name: unfinished
onFailure: pause
phases:
  - name: a
    steps:
      - sql: { up: "select 1/0" }
`);
    const failed = await runner().start(p);
    expect(failed.outcome).toBe('failed');
    await expect(runner().start(p)).rejects.toMatchObject({
      code: 'RUN_UNFINISHED',
      category: 'refused',
    });
  });

  it('stops at the next safe point on request and resumes without applying a step twice', async () => {
    const p = plan(`name: stopper
phases:
  - name: a
    steps:
${journaled('stopper a')}      - approve: {}
${journaled('stopper b')}`);
    const running = runner().start(p);
    const run = await waitUntil(async () => {
      const r = (await store.listRuns({ planName: 'stopper' }))[0];
      const steps = r ? await store.getSteps(r.id) : [];
      return steps[1]?.status === 'running' ? r : undefined;
    });
    const stop = await requestStop(store, run.id, 'operator');
    expect(stop.state).toBe('requested');
    const stopped = await running;
    expect(stopped.outcome).toBe('stopped');
    expect(stopped.run.status).toBe('paused');
    expect(stopped.steps.map((s) => s.status)).toEqual(['completed', 'paused', 'pending']);
    await approveStep(store, run.id.slice(0, 8), 'boss', { comment: 'looks fine' });
    const resumed = await runner().resume(run.id);
    expect(resumed.outcome).toBe('completed');
    expect(await journal('stopper')).toEqual(['stopper a', 'stopper b']);
    expect(resumed.steps.map((s) => s.attempt)).toEqual([1, 2, 1]);
    expect(resumed.steps[1]?.output).toMatchObject({
      approvedBy: 'boss',
      comment: 'looks fine',
      auto: false,
    });
    const types = await eventTypes(run.id);
    expect(types).toContain('stop.requested');
    expect(types).toContain('step.paused a.1');
    expect(types).toContain('run.paused a.1');
    expect(types).toContain('step.approved a.1');
    expect(types).toContain('run.resumed');
  });

  it('pauses after the phase given with untilPhase, and resume runs the rest', async () => {
    const p = plan(`name: phased
phases:
  - name: first
    steps:
${journaled('phased 1')}  - name: second
    steps:
${journaled('phased 2')}`);
    const partial = await runner().start(p, { untilPhase: 'first' });
    expect(partial.outcome).toBe('paused');
    expect(await journal('phased')).toEqual(['phased 1']);
    const rest = await runner().resume(partial.run.id);
    expect(rest.outcome).toBe('completed');
    expect(await journal('phased')).toEqual(['phased 1', 'phased 2']);
  });

  it('rolls back completed steps in reverse order, durably', async () => {
    const p = plan(`name: reverse
phases:
  - name: a
    steps:
${journaled('reverse 1')}${journaled('reverse 2')}      - wait: { for: 0s }
${journaled('reverse 3')}`);
    const done = await runner().start(p);
    expect(done.outcome).toBe('completed');
    const rolled = await runner().rollback(done.run.id, { reason: 'test' });
    expect(rolled.outcome).toBe('rolled_back');
    expect(rolled.run.status).toBe('rolled_back');
    expect(await journal('reverse')).toEqual([
      'reverse 1',
      'reverse 2',
      'reverse 3',
      'undo reverse 3',
      'undo reverse 2',
      'undo reverse 1',
    ]);
    expect(rolled.steps.every((s) => s.status === 'compensated')).toBe(true);
    const types = await eventTypes(done.run.id);
    expect(types.slice(types.indexOf('rollback.started'))).toEqual([
      'rollback.started',
      'step.compensating a.3',
      'step.compensated a.3',
      'step.compensated a.2',
      'step.compensating a.1',
      'step.compensated a.1',
      'step.compensating a.0',
      'step.compensated a.0',
      'run.rolled_back',
    ]);
    // Rolling back again changes nothing.
    const again = await runner().rollback(done.run.id);
    expect(again.outcome).toBe('rolled_back');
    expect(await journal('reverse')).toHaveLength(6);
  });

  it('refuses rollback past an irreversible phase and changes nothing', async () => {
    const p = plan(`name: noreturn
phases:
  - name: expand
    steps:
${journaled('noreturn 1')}  - name: contract
    irreversible: true
    steps:
${journaled('noreturn 2')}`);
    const done = await runner().start(p);
    const error = await runner()
      .rollback(done.run.id)
      .catch((e: unknown) => e);
    expect(isCutoverError(error) && error.code).toBe('ROLLBACK_PAST_POINT_OF_NO_RETURN');
    if (!isCutoverError(error)) return;
    expect(error.category).toBe('refused');
    expect(error.message).toContain('contract');
    expect(await journal('noreturn')).toEqual(['noreturn 1', 'noreturn 2']);
    expect((await store.getRun(done.run.id))?.status).toBe('completed');
    expect(await eventTypes(done.run.id)).toContain('rollback.refused');
  });

  it('refuses rollback before compensating anything when a step has no compensation', async () => {
    const p = plan(`name: nodown
phases:
  - name: a
    steps:
${journaled('nodown 1', false)}${journaled('nodown 2')}`);
    const done = await runner().start(p);
    await expect(runner().rollback(done.run.id)).rejects.toMatchObject({
      code: 'COMPENSATION_IMPOSSIBLE',
      category: 'refused',
    });
    expect(await journal('nodown')).toEqual(['nodown 1', 'nodown 2']);
  });

  it('rolls back automatically when a step fails and onFailure is rollback', async () => {
    const p = plan(`name: autorollback
phases:
  - name: a
    steps:
${journaled('autorollback 1')}      - sql: { up: "select 1/0", down: "insert into journal (entry) values ('undo autorollback 2')" }
${journaled('autorollback 3')}`);
    const result = await runner().start(p);
    expect(result.outcome).toBe('rolled_back');
    expect(result.rolledBackAfterFailure).toBe(true);
    expect(result.error?.code).toBe('SQL_STEP_FAILED');
    expect(result.error?.message).toContain('division by zero');
    // The failed sql step applied nothing, so its down does not run.
    expect(await journal('autorollback')).toEqual(['autorollback 1', 'undo autorollback 1']);
    expect(result.steps.map((s) => s.status)).toEqual(['compensated', 'compensated', 'pending']);
    const types = await eventTypes(result.run.id);
    expect(types).toContain('step.failed a.1');
    expect(types.at(-1)).toBe('run.rolled_back');
  });

  it('pauses on failure when onFailure is pause; resume retries the failed step', async () => {
    await db.pool.query('create table gate (open boolean)');
    const p = plan(`name: pauser
onFailure: pause
phases:
  - name: a
    steps:
${journaled('pauser 1')}      - sql:
          up: "do $$ begin if not exists (select 1 from gate) then raise exception 'gate closed'; end if; end $$"
${journaled('pauser 3')}`);
    const failed = await runner().start(p);
    expect(failed.outcome).toBe('failed');
    expect(failed.run.status).toBe('failed');
    expect(failed.error?.message).toContain('gate closed');
    expect(failed.steps.map((s) => s.status)).toEqual(['completed', 'failed', 'pending']);
    await db.pool.query('insert into gate values (true)');
    const resumed = await runner().resume(failed.run.id);
    expect(resumed.outcome).toBe('completed');
    expect(resumed.steps.map((s) => s.attempt)).toEqual([1, 2, 1]);
    expect(await journal('pauser')).toEqual(['pauser 1', 'pauser 3']);
  });

  it('rolls back a failed run on request, compensating the failed step too, without reporting a failure', async () => {
    const p = plan(`name: failedthenrollback
onFailure: pause
phases:
  - name: a
    steps:
${journaled('ftr 1')}      - sql: { up: "select 1/0", down: "select 1" }
`);
    const failed = await runner().start(p);
    expect(failed.outcome).toBe('failed');
    const rolled = await runner().rollback(failed.run.id);
    expect(rolled.outcome).toBe('rolled_back');
    expect(rolled.rolledBackAfterFailure).toBeUndefined();
    expect(rolled.run.error).toBeUndefined();
    expect(rolled.steps.map((s) => s.status)).toEqual(['compensated', 'compensated']);
    expect(await journal('ftr')).toEqual(['ftr 1', 'undo ftr 1']);
  });

  it('keeps a wait deadline across a stop: resume waits only for what is left', async () => {
    const clock = new FakeClock();
    const p = plan(`name: waiter
phases:
  - name: a
    steps:
      - wait: { for: 30m }
`);
    const running = runner({ clock }).start(p);
    await clock.waitForSleepers();
    expect(clock.sleeps).toEqual([30 * 60_000]);
    const run = (await store.listRuns({ planName: 'waiter' }))[0]!;
    clock.advance(20 * 60_000); // not yet due: the sleeper stays
    await requestStop(store, run.id, 'operator');
    expect((await running).outcome).toBe('stopped');
    clock.advance(1 * 60_000); // 21 minutes have passed
    const resumed = runner({ clock }).resume(run.id);
    await clock.waitForSleepers();
    expect(clock.sleeps.at(-1)).toBe(9 * 60_000);
    clock.advance(9 * 60_000);
    const done = await resumed;
    expect(done.outcome).toBe('completed');
    expect(done.steps[0]?.output).toEqual({
      deadline: new Date(Date.UTC(2030, 0, 1) + 30 * 60_000).toISOString(),
      forMs: 30 * 60_000,
    });
  });

  it('approves by --yes and records the approver', async () => {
    const p = plan(`name: autoapprove
phases:
  - name: a
    steps:
      - approve: { message: check the dashboards }
`);
    const result = await runner().start(p, { autoApprove: true });
    expect(result.outcome).toBe('completed');
    expect(result.steps[0]?.output).toMatchObject({ approvedBy: 'tester (--yes)', auto: true });
    expect((await store.getApproval(result.run.id, 'a.0'))?.approvedBy).toBe('tester (--yes)');
  });

  it('refuses to approve a run that waits for no approval', async () => {
    const p = plan(`name: noapproval
phases:
  - name: a
    steps:
${journaled('noapproval 1')}`);
    const result = await runner().start(p);
    await expect(approveStep(store, result.run.id, 'boss')).rejects.toMatchObject({
      code: 'NOTHING_TO_APPROVE',
    });
  });

  it('keeps the lease of a step that runs longer than the lease by heartbeat', async () => {
    const p = plan(`name: heartbeat
phases:
  - name: a
    steps:
      - wait: { for: 2500ms }
`);
    const running = runner({ leaseTtlMs: 1_000 }).start(p);
    const run = await waitUntil(async () => (await store.listRuns({ planName: 'heartbeat' }))[0]);
    await new Promise((resolve) => setTimeout(resolve, 1_800));
    const lease = await store.getLease('plan:heartbeat');
    expect(lease?.expired).toBe(false);
    await expect(runner({ isProcessAlive: () => true }).resume(run.id)).rejects.toMatchObject({
      code: 'LEASE_HELD',
    });
    expect((await running).outcome).toBe('completed');
  });

  it('approves a later approve step in advance with its step id', async () => {
    const p = plan(`name: preapprove
phases:
  - name: a
    steps:
      - approve: {}
      - approve: {}
`);
    const running = runner().start(p);
    const run = await waitUntil(async () => {
      const r = (await store.listRuns({ planName: 'preapprove' }))[0];
      return r && (await store.getSteps(r.id))[0]?.status === 'running' ? r : undefined;
    });
    const later = await approveStep(store, run.id, 'boss', { stepId: 'a.1' });
    expect(later.created).toBe(true);
    await approveStep(store, run.id, 'boss');
    const done = await running;
    expect(done.outcome).toBe('completed');
    expect(done.steps.map((s) => (s.output as { approvedBy: string }).approvedBy)).toEqual([
      'boss',
      'boss',
    ]);
    await expect(approveStep(store, run.id, 'boss', { stepId: 'a.7' })).rejects.toMatchObject({
      code: 'STEP_NOT_FOUND',
    });
  });

  it('takes over an expired lease and records the interruption', async () => {
    const p = plan(`name: takeover
phases:
  - name: a
    steps:
${journaled('takeover 1')}`);
    // A crashed executor: the run is "running" and the lease was left behind.
    const crashed = runner({ owner: { id: 'dead', host: 'elsewhere', pid: 1 } });
    const started = await crashed.start(p, { untilPhase: 'a' });
    expect(started.outcome).toBe('completed');
    await db.pool.query(`update cutover.runs set status = 'running' where id = $1`, [
      started.run.id,
    ]);
    await db.pool.query(`update cutover.steps set status = 'running' where run_id = $1`, [
      started.run.id,
    ]);
    await db.pool.query(
      `insert into cutover.leases (resource, run_id, owner_id, host, pid, expires_at)
       values ('plan:takeover', $1, 'dead', 'elsewhere', 1, clock_timestamp() + interval '1 hour')`,
      [started.run.id],
    );
    await expect(runner().resume(started.run.id)).rejects.toMatchObject({ code: 'LEASE_HELD' });
    await db.pool.query(
      `update cutover.leases set expires_at = clock_timestamp() - interval '1 second' where resource = 'plan:takeover'`,
    );
    const resumed = await runner().resume(started.run.id);
    expect(resumed.outcome).toBe('completed');
    expect(await journal('takeover')).toEqual(['takeover 1']); // the sql step's marker kept it once
    const interrupted = (await store.listEvents(started.run.id)).find(
      (e) => e.type === 'run.interrupted',
    );
    expect(interrupted?.details).toMatchObject({
      previousHolder: { host: 'elsewhere', pid: 1, expired: true },
      steps: [{ id: 'a.0', status: 'running', attempt: 1 }],
    });
  });

  it('fences a runner that lost its lease: it cannot write any more', async () => {
    const p = plan(`name: fenced
phases:
  - name: a
    steps:
      - approve: {}
${journaled('fenced 1')}`);
    const running = runner().start(p);
    const run = await waitUntil(async () => {
      const r = (await store.listRuns({ planName: 'fenced' }))[0];
      return r && (await store.getSteps(r.id))[0]?.status === 'running' ? r : undefined;
    });
    await db.pool.query(
      `update cutover.leases set owner_id = 'thief' where resource = 'plan:fenced'`,
    );
    await approveStep(store, run.id, 'boss');
    await expect(running).rejects.toMatchObject({ code: 'LEASE_LOST', category: 'busy' });
    expect(await journal('fenced')).toEqual([]);
    await db.pool.query(`delete from cutover.leases where resource = 'plan:fenced'`);
  });
});

describe('webhooks', () => {
  let hooks: WebhookServer;
  beforeAll(async () => {
    hooks = await startWebhookServer();
  });
  afterAll(async () => {
    await hooks.close();
  });

  it('POSTs run events with a Slack-compatible text to the plan webhooks', async () => {
    hooks.received.length = 0;
    const p = plan(`name: hooked
environment: staging
webhooks:
  - ${hooks.url}/all
  - url: ${hooks.url}/failures
    events: [step_failed, rolled_back]
phases:
  - name: a
    steps:
${journaled('hooked 1')}      - notify: { webhook: "${hooks.url}/notify", message: "half way" }
      - sql: { up: "select 1/0" }
`);
    const result = await runner().start(p);
    expect(result.outcome).toBe('rolled_back');
    const byPath = (path: string) =>
      hooks.received.filter((h) => h.path === path).map((h) => h.body.event);
    expect(byPath('/all')).toEqual(['run.started', 'step.failed', 'run.rolled_back']);
    expect(byPath('/failures')).toEqual(['step.failed', 'run.rolled_back']);
    const notify = hooks.received.find((h) => h.path === '/notify');
    expect(notify?.body).toMatchObject({
      text: 'half way',
      event: 'step.notify',
      run: { id: result.run.id, environment: 'staging' },
      step: { id: 'a.1' },
    });
    expect(notify?.contentType).toBe('application/json');
    const failed = hooks.received.find((h) => h.path === '/all' && h.body.event === 'step.failed');
    expect(failed?.body.text).toMatch(
      /^\[cutover\] hooked \(staging\) run [0-9a-f]{8} step a\.2 \(sql\) failed: /,
    );
    expect(failed?.body.step).toEqual({ id: 'a.2', kind: 'sql' });
  });

  it('records a failed webhook delivery in the audit log without failing the run', async () => {
    hooks.status = 500;
    try {
      const p = plan(`name: deadhook
webhooks: [${hooks.url}/down]
phases:
  - name: a
    steps:
      - notify: { webhook: "${hooks.url}/down" }
`);
      const result = await runner({ webhookTimeoutMs: 1_000 }).start(p);
      expect(result.outcome).toBe('completed');
      expect(result.steps[0]?.output).toMatchObject({ sent: false });
      const types = await eventTypes(result.run.id);
      expect(types).toContain('webhook.failed');
      expect(types).toContain('notify.failed a.0');
    } finally {
      hooks.status = 200;
    }
  });
});

describe('audit log', () => {
  it('is append-only: UPDATE, DELETE and TRUNCATE are rejected', async () => {
    const id = await store.appendEvent({ type: 'test.event', actor: 'tester' });
    await expect(
      db.pool.query(`update cutover.events set actor = 'x' where id = $1`, [id]),
    ).rejects.toThrow(/append-only: UPDATE/);
    await expect(db.pool.query(`delete from cutover.events where id = $1`, [id])).rejects.toThrow(
      /append-only: DELETE/,
    );
    await expect(db.pool.query('truncate cutover.events')).rejects.toThrow(/append-only: TRUNCATE/);
    const { rows } = await db.pool.query('select 1 from cutover.events where id = $1', [id]);
    expect(rows).toHaveLength(1);
  });
});
