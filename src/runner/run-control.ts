import { CutoverError } from '../errors/index.js';
import type { ControlStore } from '../store/control-store.js';
import type { ApprovalRecord, RunRecord, StepRecord } from '../store/run-records.js';
import { planLeaseResource } from './runner.js';

/** Result of {@link requestStop}. */
export interface StopResult {
  run: RunRecord;
  /**
   * - `requested`: a live runner holds the run; it pauses at its next safe point.
   * - `paused`: no live runner (it died); the run was marked paused directly.
   * - `already_paused`: the run was not running.
   */
  state: 'requested' | 'paused' | 'already_paused';
}

/**
 * Asks the run to stop at its next safe point (between steps, between
 * backfill batches, during a wait). The runner polls for the request
 * (every 500 ms by default) and aborts the step's signal. When no live runner
 * holds the run (its process died), the run is marked `paused` directly.
 *
 * @throws CutoverError `RUN_NOT_FOUND` (not_found), `RUN_FINISHED` (refused).
 */
export async function requestStop(
  store: ControlStore,
  ref: string | undefined,
  actor: string,
  now: Date = new Date(),
): Promise<StopResult> {
  const run = await store.findRun(ref);
  if (run.status === 'completed' || run.status === 'rolled_back') {
    throw new CutoverError(
      'RUN_FINISHED',
      'refused',
      `Run ${run.id.slice(0, 8)} is ${run.status.replace('_', ' ')}; there is nothing to stop.`,
      { location: run.id },
    );
  }
  if (run.status !== 'running') return { run, state: 'already_paused' };
  const lease = await store.getLease(planLeaseResource(run.planName));
  const live = lease !== undefined && !lease.expired && lease.runId === run.id;
  if (live) {
    await store.transaction(async (client) => {
      await store.updateRun(
        run.id,
        { stopRequestedAt: now, stopRequestedBy: actor, updatedAt: now },
        { db: client },
      );
      await store.appendEvent(
        {
          runId: run.id,
          type: 'stop.requested',
          actor,
          at: now,
          details: { holder: { host: lease.host, pid: lease.pid } },
        },
        client,
      );
    });
    return { run: (await store.getRun(run.id)) ?? run, state: 'requested' };
  }
  await store.transaction(async (client) => {
    await store.updateRun(run.id, { status: 'paused', updatedAt: now }, { db: client });
    await store.appendEvent(
      {
        runId: run.id,
        type: 'run.paused',
        actor,
        at: now,
        details: { reason: 'stop requested; no live runner held the run', mode: run.mode },
      },
      client,
    );
  });
  return { run: (await store.getRun(run.id)) ?? run, state: 'paused' };
}

/** Result of {@link approveStep}. */
export interface ApproveResult {
  run: RunRecord;
  step: StepRecord;
  approval: ApprovalRecord;
  /** False when the step had already been approved (the first approval is kept). */
  created: boolean;
}

/**
 * Approves an `approve` step of a run: by default the one the run is waiting
 * on; with `stepId`, that approve step (also in advance, before the run gets
 * there). The approver and comment are recorded (`cutover.approvals` and a
 * `step.approved` event); the waiting runner continues within about a second.
 *
 * @throws CutoverError `RUN_NOT_FOUND` (not_found), `STEP_NOT_FOUND`
 *   (not_found), `NOTHING_TO_APPROVE` (refused) when no approve step waits.
 */
export async function approveStep(
  store: ControlStore,
  ref: string | undefined,
  actor: string,
  options: { stepId?: string; comment?: string; now?: Date } = {},
): Promise<ApproveResult> {
  const run = await store.findRun(ref);
  const steps = await store.getSteps(run.id);
  const short = run.id.slice(0, 8);
  let step: StepRecord | undefined;
  if (options.stepId !== undefined) {
    step = steps.find((s) => s.stepId === options.stepId);
    if (step === undefined || step.kind !== 'approve') {
      throw new CutoverError(
        'STEP_NOT_FOUND',
        'not_found',
        `Run ${short} has no approve step ${options.stepId}.`,
        {
          location: options.stepId,
          hint: `Approve steps of this run: ${
            steps
              .filter((s) => s.kind === 'approve')
              .map((s) => s.stepId)
              .join(', ') || 'none'
          }.`,
        },
      );
    }
  } else {
    step = steps.find(
      (s) =>
        s.kind === 'approve' &&
        (s.status === 'running' || s.status === 'paused' || s.status === 'failed'),
    );
    if (step === undefined) {
      const later = steps.filter((s) => s.kind === 'approve' && s.status === 'pending');
      throw new CutoverError(
        'NOTHING_TO_APPROVE',
        'refused',
        `Run ${short} is not waiting for an approval.`,
        {
          location: run.id,
          hint:
            later.length > 0
              ? `To approve a later step in advance: \`cutover approve ${short} --step ${later[0]!.stepId}\`.`
              : 'Check the run with `cutover status`.',
        },
      );
    }
  }
  const now = options.now ?? new Date();
  const existing = await store.getApproval(run.id, step.stepId);
  if (existing !== undefined) return { run, step, approval: existing, created: false };
  const approval = await store.transaction(async (client) => {
    const created = await store.approve(run.id, step.stepId, actor, options.comment, client);
    await store.appendEvent(
      {
        runId: run.id,
        stepId: step.stepId,
        type: 'step.approved',
        actor,
        at: now,
        details: { approvedBy: actor, ...(options.comment ? { comment: options.comment } : {}) },
      },
      client,
    );
    return created;
  });
  return { run, step, approval, created: true };
}
