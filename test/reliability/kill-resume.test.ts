import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../helpers/test-database.js';
import {
  CASE_TIMEOUT_MS,
  PLAN,
  STEPS,
  USERS,
  backupFiles,
  betweenSteps,
  indexState,
  createSandbox,
  createTemplate,
  endState,
  RunWatch,
  type EndState,
  type Held,
} from './dashboard-harness.js';

/**
 * The runner of the dashboard-v2 example plan is SIGKILLed at many points —
 * between every pair of steps, inside each step (snapshot, backup, each
 * migration including the CONCURRENTLY ones, a backfill batch, verification,
 * the approval wait) and inside a rollback — then resumed; the end state
 * must equal an uninterrupted run's (checksums of every table, the schema
 * with index validity, the snapshot copies, the migration history) and the
 * audit log must record the interruption.
 *
 * Each case runs on its own clone of one template database. A case first
 * holds the legacy table (ACCESS EXCLUSIVE), so the runner waits in its
 * first step while the case sets up the row and table locks that stop the
 * runner exactly at its point; `openGate()` lets it go on.
 */

interface KillCase {
  name: string;
  /** Run without --yes, so the approve step waits for `cutover approve`. */
  approveByHand?: boolean;
  /** Gets the runner to its kill point; resolves when it is there. */
  reach(w: RunWatch, openGate: () => Promise<void>): Promise<void>;
  /** The step in flight at the kill (applied again on resume: attempt 2); null: between steps. */
  inFlight: string | null;
  /** Checks, right after the kill, that the run was cut at that point. */
  atKill?(w: RunWatch): Promise<void>;
}

const between = (before: string, after: string): KillCase => ({
  name: `between steps ${before} and ${after}`,
  inFlight: null,
  reach: (w, openGate) => betweenSteps(w, openGate, after),
});

const IN_STEP_CASES: KillCase[] = [
  {
    name: 'during the snapshot copy (CREATE TABLE AS waiting for the legacy table)',
    inFlight: 'prepare.0',
    reach: async (w) => {
      await w.waiting('%create table%cutover_snapshots%');
    },
  },
  {
    name: 'during the backup (pg_dump waiting for a table lock)',
    inFlight: 'prepare.1',
    reach: async (w, openGate) => {
      const step = await w.holdStep('prepare.1');
      await openGate();
      await w.blockedOnStepRow();
      await w.lockTable('users', 'access exclusive');
      await step.release();
      await w.waiting('%lock table%');
    },
    atKill: async (w) => {
      expect((await backupFiles(w.sandbox.dir)).filter((f) => f.endsWith('.partial'))).toHaveLength(
        1,
      );
    },
  },
  {
    name: 'during migration 20240601000001 (its transaction waiting for a lock on users)',
    inFlight: 'expand.0',
    reach: async (w, openGate) => {
      const step = await w.holdStep('expand.0');
      await openGate();
      await w.blockedOnStepRow();
      await w.lockTable('users', 'access exclusive');
      await step.release();
      await w.waiting('%create table dashboard_configurations%');
    },
  },
  {
    name: 'during CREATE INDEX CONCURRENTLY of the first index (waiting for an old snapshot)',
    inFlight: 'expand.0',
    reach: async (w, openGate) => {
      const step = await w.holdStep('expand.0');
      await openGate();
      await w.blockedOnStepRow();
      await w.openSnapshot();
      await step.release();
      await w.waiting('%create index concurrently%dashboard_widgets_visible_idx%');
    },
    atKill: async (w) => {
      expect(await indexState(w.pool)).toEqual({ dashboard_widgets_visible_idx: 'invalid' });
    },
  },
  {
    name: 'during CREATE INDEX CONCURRENTLY of the second index, the first one built',
    inFlight: 'expand.0',
    reach: async (w, openGate) => {
      const step = await w.holdStep('expand.0');
      await openGate();
      await w.blockedOnStepRow();
      const first = await w.openSnapshot();
      await step.release();
      await w.waiting('%create index concurrently%dashboard_widgets_visible_idx%');
      // A newer snapshot: the first build does not wait for it, the second one does.
      await w.openSnapshot();
      await first.release();
      await w.waiting('%create index concurrently%dashboard_widgets_unknown_type_idx%');
    },
    atKill: async (w) => {
      expect(await indexState(w.pool)).toEqual({
        dashboard_widgets_visible_idx: 'valid',
        dashboard_widgets_unknown_type_idx: 'invalid',
      });
    },
  },
  {
    name: 'inside the second backfill batch, at its checkpoint write (the first one committed)',
    inFlight: 'expand.1',
    reach: async (w, openGate) => {
      await stepRowWrites(w, openGate, 'expand.1', secondBatchCheckpoint(w));
    },
    atKill: async (w) => {
      expect(batches(await w.checkpointOf('expand.1'))).toBe(1);
    },
  },
  {
    name: 'inside a backfill batch, between its two writes (widgets locked)',
    inFlight: 'expand.1',
    reach: async (w, openGate) => {
      // Stop batch 2 at its checkpoint write; queue a SHARE lock on the widgets behind it;
      // let it commit: batch 3 (the module's first batch is 500 rows and batches at most
      // double, so 2,000 rows take at least 3) writes configurations, then waits on the widgets.
      const held = await stepRowWrites(w, openGate, 'expand.1', secondBatchCheckpoint(w));
      const lock = await w.requestLock('dashboard_widgets', 'share');
      await held.release();
      await lock.granted;
      await w.waiting('%delete from dashboard_widgets%');
    },
    atKill: async (w) => {
      // The batch in flight rolled back with the kill: configurations only of committed batches.
      const { rows } = await w.pool.query<{ configs: number; checkpoint: number }>(
        `select (select count(*)::int from dashboard_configurations) as configs,
                (select (checkpoint -> 'cursor' ->> 'rows')::int from cutover.steps
                  where run_id = $1 and step_id = 'expand.1') as checkpoint`,
        [await w.run()],
      );
      expect(rows[0]?.configs).toBe(rows[0]?.checkpoint);
      expect(rows[0]?.configs).toBeLessThan(USERS);
    },
  },
  {
    name: 'after the last backfill batch, before the step is recorded completed',
    inFlight: 'expand.1',
    reach: async (w, openGate) => {
      // Once the last batch has committed and `backfill.finished` is logged, the next write of
      // the step's row is its completion.
      await stepRowWrites(w, openGate, 'expand.1', () =>
        w.hasEvent('backfill.finished', 'expand.1'),
      );
      expect(await w.stepStatus('expand.1')).toBe('running');
    },
    atKill: async (w) => {
      const { rows } = await w.pool.query<{ configs: number }>(
        'select count(*)::int as configs from dashboard_configurations',
      );
      expect(rows[0]?.configs).toBe(USERS);
    },
  },
  {
    name: 'during verification (a check waiting for dashboard_configurations)',
    inFlight: 'expand.2',
    reach: async (w, openGate) => {
      const step = await w.holdStep('expand.2');
      await openGate();
      await w.blockedOnStepRow();
      await w.lockTable('dashboard_configurations', 'access exclusive');
      await step.release();
      await w.waiting('%dashboard_configurations%');
    },
  },
  {
    name: 'while the approve step waits for `cutover approve`',
    approveByHand: true,
    inFlight: 'approve.0',
    reach: async (w, openGate) => {
      await openGate();
      await w.event('approval.waiting', 'approve.0');
    },
  },
  {
    name: 'after the approval was given, before the approve step is recorded completed',
    approveByHand: true,
    inFlight: 'approve.0',
    reach: async (w, openGate) => {
      await openGate();
      await w.event('approval.waiting', 'approve.0');
      await w.holdStep('approve.0');
      const approved = await w.sandbox.cli('approve', await w.run());
      expect(approved.code).toBe(0);
      await w.blockedOnStepRow();
    },
  },
  {
    name: 'during a flag change (rollout 5% → 50%, its transaction waiting for the flag store)',
    inFlight: 'rollout.2',
    reach: async (w, openGate) => {
      const step = await w.holdStep('rollout.2');
      await openGate();
      await w.blockedOnStepRow();
      await w.lockTable('cutover.flags', 'share');
      await step.release();
      await w.waiting('%cutover.flags%');
    },
  },
  {
    name: 'after a flag change committed, before its step is recorded completed',
    inFlight: 'rollout.2',
    reach: async (w, openGate) => {
      const step = await w.holdStep('rollout.2');
      await openGate();
      await w.blockedOnStepRow();
      const store = await w.lockTable('cutover.flags', 'share');
      await step.release();
      await w.waiting('%cutover.flags%');
      await w.holdStep('rollout.2');
      await store.release();
      await w.event('flag.changed', 'rollout.2');
      await w.blockedOnStepRow();
    },
    atKill: async (w) => {
      const { rows } = await w.pool.query<{ version: number }>(
        `select version from cutover.flags where key = 'new-dashboard'`,
      );
      expect(rows).toEqual([{ version: 2 }]);
    },
  },
  {
    name: 'during the contract migration (DROP TABLE waiting for a reader of the legacy table)',
    inFlight: 'contract.0',
    reach: async (w, openGate) => {
      const step = await w.holdStep('contract.0');
      await openGate();
      await w.blockedOnStepRow();
      await w.lockTable('legacy_dashboard_configs', 'access share');
      await step.release();
      await w.waiting('%drop table legacy_dashboard_configs%');
    },
  },
  {
    name: 'after the contract migration committed, before its step is recorded completed',
    inFlight: 'contract.0',
    reach: async (w, openGate) => {
      const step = await w.holdStep('contract.0');
      await openGate();
      await w.blockedOnStepRow();
      const reader = await w.lockTable('legacy_dashboard_configs', 'access share');
      await step.release();
      await w.waiting('%drop table legacy_dashboard_configs%');
      // The step saved its checkpoint before migrating: hold its row, let the DROP go.
      await w.holdStep('contract.0');
      await reader.release();
      await w.blockedOnStepRow();
      const { rows } = await w.pool.query(
        `select 1 from cutover.schema_migrations where version = '20240601000003'`,
      );
      expect(rows).toHaveLength(1);
    },
  },
];

const APPLY_CASES: KillCase[] = [
  ...STEPS.slice(1).map((step, i) => between(STEPS[i]!, step)),
  ...IN_STEP_CASES,
];

type StepWrite = 'checkpoint' | 'progress' | 'transition';

/**
 * Stops the runner at successive writes of `stepId`'s row — its start, each
 * backfill batch's checkpoint (written in the batch's transaction), its
 * completion — by holding the row and letting one write of the runner's main
 * flow through at a time, until `done(blocked)` says this is the write to
 * kill at. (A progress report waiting alone is not let through: it is
 * written in the background, and the main flow goes on to its next write.)
 * Returns the hold of the row.
 */
async function stepRowWrites(
  w: RunWatch,
  openGate: () => Promise<void>,
  stepId: string,
  done: (blocked: StepWrite[]) => Promise<boolean>,
): Promise<Held> {
  let held = await w.holdStep(stepId);
  await openGate();
  for (;;) {
    const blocked = await w.blockedStepWrites();
    if (await done(blocked)) return held;
    if (blocked.every((b) => b === 'progress')) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      continue;
    }
    await held.release();
    held = await w.holdStep(stepId);
  }
}

/** Done at batch 2's checkpoint write (batch 1 committed). */
function secondBatchCheckpoint(w: RunWatch): (blocked: StepWrite[]) => Promise<boolean> {
  return async (blocked) =>
    blocked.includes('checkpoint') && batches(await w.checkpointOf('expand.1')) >= 1;
}

function batches(checkpoint: unknown): number {
  return (checkpoint as { cursor?: { batches?: number } } | null)?.cursor?.batches ?? 0;
}

let template: TestDatabase;
let reference: EndState;

beforeAll(async () => {
  template = await createTemplate();
  const sandbox = await createSandbox(template);
  try {
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

describe.concurrent(
  'SIGKILL of the runner, then resume: the end state equals an uninterrupted run',
  { timeout: CASE_TIMEOUT_MS },
  () => {
    it('the reference run built the new tables and dropped the legacy one', () => {
      expect(Object.keys(reference.public.tables).sort()).toEqual([
        'public.dashboard_configurations',
        'public.dashboard_widgets',
        'public.users',
      ]);
      expect(reference.public.schema.filter((l) => l.includes('INVALID'))).toEqual([]);
      expect(reference.history).toHaveLength(3);
      expect(Object.keys(reference.snapshots)).toEqual([
        'cutover_snapshots.RUN_prepare_0__public_legacy_dashboard_configs',
      ]);
    });

    it.each(APPLY_CASES.map((c) => [c.name, c] as const))('killed %s', async (_name, c) => {
      const sandbox = await createSandbox(template);
      const w = new RunWatch(sandbox);
      try {
        const gate = await w.lockTable('legacy_dashboard_configs', 'access exclusive');
        w.start('run', PLAN, ...(c.approveByHand ? [] : ['--yes']));
        const runId = await w.run();
        await w.waiting('%create table%cutover_snapshots%');
        await c.reach(w, () => gate.release());
        const killed = await w.kill();
        expect(killed.signal).toBe('SIGKILL');
        await c.atKill?.(w);
        await w.releaseAll();

        if (c.approveByHand) {
          const approved = await sandbox.cli('approve', runId);
          expect(approved.code, approved.stderr).toBe(0);
        }
        // --yes: the rollout phase's approvals (a run started with --yes keeps approving itself).
        const resumed = await sandbox.cli('resume', runId, '--yes');
        expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
        expect(resumed.stdout).toContain('run was interrupted');

        expect(await endState(sandbox.db.pool)).toEqual(reference);

        const { rows: steps } = await sandbox.db.pool.query<{
          step_id: string;
          status: string;
          attempt: number;
        }>(
          'select step_id, status, attempt from cutover.steps where run_id = $1 order by position',
          [runId],
        );
        expect(steps.map((s) => [s.step_id, s.status, s.attempt])).toEqual(
          steps.map((s) => [s.step_id, 'completed', s.step_id === c.inFlight ? 2 : 1]),
        );
        const { rows: events } = await sandbox.db.pool.query<{
          step_id: string | null;
          details: { previousHolder?: { pid?: number } };
        }>(
          `select step_id, details from cutover.events where run_id = $1 and type = 'run.interrupted'`,
          [runId],
        );
        expect(events).toHaveLength(1);
        expect(events[0]?.step_id ?? null).toBe(c.inFlight);
        expect(events[0]?.details.previousHolder?.pid).toBe(w.proc.pid);

        const files = await backupFiles(sandbox.dir);
        expect(files.filter((f) => f.endsWith('.dump'))).toHaveLength(1);
        expect(files.filter((f) => !f.endsWith('.dump') && !f.endsWith('.dump.json'))).toEqual([]);
      } finally {
        await w.dispose();
        await sandbox.dispose();
      }
    });
  },
);
