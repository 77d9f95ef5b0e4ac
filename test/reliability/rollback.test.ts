import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../helpers/test-database.js';
import { waitUntil } from '../helpers/wait-until.js';
import {
  CASE_TIMEOUT_MS,
  PLAN,
  STEPS,
  betweenSteps,
  createSandbox,
  createTemplate,
  endState,
  indexState,
  RunWatch,
  type EndState,
  type Sandbox,
} from './dashboard-harness.js';

/**
 * Rollback of the dashboard-v2 example plan, with the runner as a child
 * process: rolled back after each of its steps, every table returns to its
 * checksums before the run (past the irreversible contract phase rollback is
 * refused and changes nothing); a rollback SIGKILLed at several points and
 * continued with `cutover rollback` ends in the same place; two runners
 * started together on the plan: exactly one executes.
 */

let template: TestDatabase;
/** The database before any run. */
let pristine: EndState;
/** After an uninterrupted run to the end. */
let reference: EndState;

beforeAll(async () => {
  template = await createTemplate();
  const sandbox = await createSandbox(template);
  try {
    pristine = await endState(sandbox.db.pool);
    const run = await sandbox.cli('run', PLAN, '--yes');
    expect(run.code, run.stderr).toBe(0);
    reference = await endState(sandbox.db.pool);
  } finally {
    await sandbox.dispose();
  }
}, 120_000);
afterAll(async () => {
  await template?.drop();
});

async function stepStatuses(sandbox: Sandbox, runId: string): Promise<string[]> {
  const { rows } = await sandbox.db.pool.query<{ status: string }>(
    'select status from cutover.steps where run_id = $1 order by position',
    [runId],
  );
  return rows.map((r) => r.status);
}

async function interruptions(sandbox: Sandbox, runId: string): Promise<{ mode: string }[]> {
  const { rows } = await sandbox.db.pool.query<{ details: { mode: string } }>(
    `select details from cutover.events where run_id = $1 and type = 'run.interrupted'`,
    [runId],
  );
  return rows.map((r) => r.details);
}

describe.concurrent('rollback after each step of the example', { timeout: CASE_TIMEOUT_MS }, () => {
  it('the reference run changed the tables and the flag the rollbacks must restore', () => {
    expect(Object.keys(pristine.public.tables).sort()).toEqual([
      'public.legacy_dashboard_configs',
      'public.users',
    ]);
    expect(pristine.flags).toEqual([]);
    expect(reference.public).not.toEqual(pristine.public);
    expect(reference.flags).toHaveLength(1);
    expect(reference.flags[0]).toMatch(/^new-dashboard 3 /);
  });

  // After step k (0-based) of the reversible phases: the run is killed before step k + 1.
  it.each(STEPS.slice(0, -1).map((step, k) => [step, k] as const))(
    'after %s: rollback returns every table to its checksums before the run',
    async (step, k) => {
      const sandbox = await createSandbox(template);
      const w = new RunWatch(sandbox);
      try {
        const gate = await w.lockTable('legacy_dashboard_configs', 'access exclusive');
        w.start('run', PLAN, '--yes');
        const runId = await w.run();
        await w.waiting('%create table%cutover_snapshots%');
        await betweenSteps(w, () => gate.release(), STEPS[k + 1]!);
        expect((await w.kill()).signal).toBe('SIGKILL');
        await w.releaseAll();
        expect((await stepStatuses(sandbox, runId)).slice(0, k + 1)).toEqual(
          STEPS.slice(0, k + 1).map(() => 'completed'),
        );

        const rolledBack = await sandbox.cli('rollback', runId, '--yes');
        expect(rolledBack.code, rolledBack.stderr + rolledBack.stdout).toBe(0);
        expect(rolledBack.stdout).toContain(`Run ${runId.slice(0, 8)} rolled back.`);
        const after = await endState(sandbox.db.pool);
        expect(after.public).toEqual(pristine.public);
        expect(after.flags).toEqual(pristine.flags);
        expect(await stepStatuses(sandbox, runId)).toEqual(
          STEPS.map((_, i) => (i <= k ? 'compensated' : 'pending')),
        );
        expect(step).toBe(STEPS[k]);
      } finally {
        await w.dispose();
        await sandbox.dispose();
      }
    },
  );

  it('after contract.0 (the run completed): rollback is refused and changes nothing', async () => {
    const sandbox = await createSandbox(template);
    try {
      const run = await sandbox.cli('run', PLAN, '--yes', '--json');
      expect(run.code, run.stderr).toBe(0);
      const runId = (JSON.parse(run.stdout) as { run: { id: string } }).run.id;
      const refused = await sandbox.cli('rollback', runId, '--yes');
      expect(refused.code).toBe(7);
      expect(refused.stderr).toContain('error ROLLBACK_PAST_POINT_OF_NO_RETURN');
      expect(await endState(sandbox.db.pool)).toEqual(reference);
      expect(await stepStatuses(sandbox, runId)).toEqual(STEPS.map(() => 'completed'));
    } finally {
      await sandbox.dispose();
    }
  });

  it('killed during contract.0: rollback is refused; resume rolls forward to the reference', async () => {
    const sandbox = await createSandbox(template);
    const w = new RunWatch(sandbox);
    try {
      const gate = await w.lockTable('legacy_dashboard_configs', 'access exclusive');
      w.start('run', PLAN, '--yes');
      const runId = await w.run();
      await w.waiting('%create table%cutover_snapshots%');
      const step = await w.holdStep('contract.0');
      await gate.release();
      await w.blockedOnStepRow();
      await w.lockTable('legacy_dashboard_configs', 'access share');
      await step.release();
      await w.waiting('%drop table legacy_dashboard_configs%');
      expect((await w.kill()).signal).toBe('SIGKILL');
      await w.releaseAll();
      // The killed runner's DROP TABLE goes on once the reader is gone (one transaction).
      await waitUntil(async () => {
        const { rows } = await sandbox.db.pool.query(
          `select 1 from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
              and query ilike '%drop table legacy%' and state = 'active'`,
        );
        return rows.length === 0;
      });
      const before = await endState(sandbox.db.pool);
      const refused = await sandbox.cli('rollback', runId, '--yes');
      expect(refused.code).toBe(7);
      expect(refused.stderr).toContain('error ROLLBACK_PAST_POINT_OF_NO_RETURN');
      expect(await endState(sandbox.db.pool)).toEqual(before);

      const resumed = await sandbox.cli('resume', runId);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(await endState(sandbox.db.pool)).toEqual(reference);
    } finally {
      await w.dispose();
      await sandbox.dispose();
    }
  });
});

interface RollbackKillCase {
  name: string;
  /** Gets the rollback to its kill point; `openGate` lets it start compensating. */
  reach(w: RunWatch, openGate: () => Promise<void>): Promise<void>;
  atKill?(w: RunWatch): Promise<void>;
}

/** Holds `stepId`'s row, lets the rollback go, and once it waits there takes `lock`, then lets it in. */
async function lockedCompensation(
  w: RunWatch,
  openGate: () => Promise<void>,
  stepId: string,
  lock: [table: string, mode: string],
  pattern: string,
): Promise<void> {
  const step = await w.holdStep(stepId);
  await openGate();
  await w.blockedOnStepRow();
  await w.lockTable(...lock);
  await step.release();
  await w.waiting(pattern);
}

const ROLLBACK_CASES: RollbackKillCase[] = [
  {
    name: 'during a flag restore (rollout 50% → 5%, waiting for the flag store)',
    reach: (w, openGate) =>
      lockedCompensation(w, openGate, 'rollout.2', ['cutover.flags', 'share'], '%cutover.flags%'),
  },
  {
    name: 'right after the rollback started, before the first compensation',
    reach: async (w) => {
      await w.event('rollback.started');
      await w.blockedOnStepRow();
    },
  },
  {
    name: 'inside a revert batch of the backfill, between its two deletes',
    reach: async (w, openGate) => {
      await w.lockTable('dashboard_configurations', 'share');
      await openGate();
      await w.waiting('%delete from dashboard_configurations%');
    },
  },
  {
    name: 'between compensations, before the migrate step is compensated',
    reach: (w, openGate) => betweenSteps(w, openGate, 'expand.0', 'completed'),
  },
  {
    name: 'during DROP INDEX CONCURRENTLY of the migrate-down',
    reach: (w, openGate) =>
      lockedCompensation(
        w,
        openGate,
        'expand.0',
        ['dashboard_widgets', 'access share'],
        '%drop index concurrently%',
      ),
    atKill: async (w) => {
      expect(Object.values(await indexState(w.pool))).toContain('invalid');
    },
  },
  {
    name: 'during migration 20240601000001 down (DROP TABLE waiting for a reader)',
    reach: (w, openGate) =>
      lockedCompensation(
        w,
        openGate,
        'expand.0',
        ['dashboard_configurations', 'access share'],
        '%drop table dashboard_%',
      ),
  },
  {
    name: 'between compensations, before the snapshot is restored',
    reach: (w, openGate) => betweenSteps(w, openGate, 'prepare.0', 'completed'),
  },
  {
    name: 'during the snapshot restore (waiting for the legacy table)',
    reach: (w, openGate) =>
      lockedCompensation(
        w,
        openGate,
        'prepare.0',
        ['legacy_dashboard_configs', 'access share'],
        '%legacy_dashboard_configs%',
      ),
  },
];

describe.concurrent(
  'SIGKILL during a rollback, then `cutover rollback` again',
  { timeout: CASE_TIMEOUT_MS },
  () => {
    it.each(ROLLBACK_CASES.map((c) => [c.name, c] as const))(
      'killed %s: every table back to its checksums before the run',
      async (_name, c) => {
        const sandbox = await createSandbox(template);
        const w = new RunWatch(sandbox);
        try {
          const run = await sandbox.cli('run', PLAN, '--yes', '--phase', 'rollout', '--json');
          expect(run.code, run.stderr).toBe(0);
          const runId = (JSON.parse(run.stdout) as { run: { id: string } }).run.id;
          w.runId = runId;
          // The gate: the rollback waits before its first compensation (of rollout.4).
          const gate = await w.holdStep('rollout.4');
          w.start('rollback', runId, '--yes');
          await c.reach(w, () => gate.release());
          expect((await w.kill()).signal).toBe('SIGKILL');
          await c.atKill?.(w);
          await w.releaseAll();

          const again = await sandbox.cli('rollback', runId, '--yes');
          expect(again.code, again.stderr + again.stdout).toBe(0);
          expect(again.stdout).toContain('run was interrupted');
          expect(again.stdout).toContain(`Run ${runId.slice(0, 8)} rolled back.`);
          const after = await endState(sandbox.db.pool);
          expect(after.public).toEqual(pristine.public);
          expect(after.flags).toEqual(pristine.flags);
          expect(await stepStatuses(sandbox, runId)).toEqual([
            ...STEPS.slice(0, -1).map(() => 'compensated'),
            'pending',
          ]);
          expect(await interruptions(sandbox, runId)).toEqual([
            expect.objectContaining({ mode: 'rollback' }),
          ]);
        } finally {
          await w.dispose();
          await sandbox.dispose();
        }
      },
    );
  },
);

describe('two runners on the example plan', { timeout: CASE_TIMEOUT_MS }, () => {
  it('started together: exactly one executes, the other is refused naming the holder', async () => {
    const sandbox = await createSandbox(template);
    const w = new RunWatch(sandbox);
    try {
      // The executor waits in its first step until the other has been turned away.
      const gate = await w.lockTable('legacy_dashboard_configs', 'access exclusive');
      const first = sandbox.spawn('run', PLAN, '--yes');
      const second = sandbox.spawn('run', PLAN, '--yes');
      await Promise.race([first.exited, second.exited]);
      await gate.release();
      const results = await Promise.all([first.exited, second.exited]);
      expect(results.map((r) => r.code).sort()).toEqual([0, 4]);
      const winner = results[0].code === 0 ? first : second;
      const loser = results.find((r) => r.code === 4)!;
      expect(loser.stderr).toContain('error LEASE_HELD');
      expect(loser.stderr).toContain(`pid ${winner.pid}`);
      const { rows } = await sandbox.db.pool.query<{ n: number; started: number }>(
        `select (select count(*)::int from cutover.runs) as n,
                (select count(*)::int from cutover.events where type = 'step.started') as started`,
      );
      expect(rows[0]).toEqual({ n: 1, started: STEPS.length });
      expect(await endState(sandbox.db.pool)).toEqual(reference);
    } finally {
      await w.dispose();
      await sandbox.dispose();
    }
  });
});
