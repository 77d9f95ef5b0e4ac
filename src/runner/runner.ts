import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { isConnectionError } from '../db/index.js';
import { CutoverError, isCutoverError } from '../errors/index.js';
import type { Plan, RunEventName } from '../plan/plan-types.js';
import { ControlStore, leaseLost, type Fence } from '../store/control-store.js';
import type {
  EventRecord,
  LeaseRecord,
  RunRecord,
  StepRecord,
  StoredError,
  StoredPlan,
} from '../store/run-records.js';
import { postWebhook, safeOrigin } from '../steps/post-webhook.js';
import type { Clock, CompletedStep, StepContext, StepProgress } from '../steps/step-kind.js';
import type { AnyStepKind, StepKindRegistry } from '../steps/step-kind-registry.js';
import { defaultActor } from './actor.js';
import { runEventPayload } from './run-events.js';
import { toStoredError } from './stored-error.js';
import { createSystemClock } from './system-clock.js';

/** Options of {@link Runner}. */
export interface RunnerOptions {
  /** Pool on the target database; it also holds the control schema `cutover` (call `ensureControlSchema` first). */
  pool: pg.Pool;
  /** URL of the target database (step kinds such as `backup` need it; the heartbeat opens its own connection with it). */
  databaseUrl: string;
  /** The step kinds runs may use. */
  registry: StepKindRegistry;
  /** `.cutover` state directory. Default `<cwd>/.cutover`. */
  stateDir?: string;
  /** Time source for step timestamps and waits. Default the system clock. */
  clock?: Clock;
  /** Actor recorded in the audit log. Default the OS user. */
  actor?: string;
  /** Lease time to live, ms: a holder that stops renewing is presumed dead after this. Default 15 000. */
  leaseTtlMs?: number;
  /** Heartbeat (lease renewal) interval, ms. Default `leaseTtlMs / 3`. */
  heartbeatMs?: number;
  /** How often a running run checks for stop requests, ms. Default 500. */
  pollMs?: number;
  /** Identity of this executor (recorded in the lease). Defaults: random uuid, `os.hostname()`, `process.pid`. */
  owner?: { id?: string; host?: string; pid?: number };
  /**
   * Whether a process is alive (for taking over the unexpired lease of a dead
   * holder on this same host). Default `process.kill(pid, 0)`. Return true to
   * always wait for expiry.
   */
  isProcessAlive?: (pid: number) => boolean;
  /** New run ids. Default `crypto.randomUUID`. */
  newId?: () => string;
  /** Called after each event is appended to the audit log (for live output). Must not throw. */
  onEvent?: (event: EventRecord) => void;
  /** Called with each progress report of the running step. Must not throw. */
  onProgress?: (stepId: string, progress: StepProgress) => void;
  /** Per-attempt timeout of run-event webhooks, ms. Default 5 000. */
  webhookTimeoutMs?: number;
  /** `fetch` for webhooks. Default the global one. */
  fetch?: typeof fetch;
}

/** Options of {@link Runner.start}. */
export interface StartOptions {
  /** Pause after the last step of this phase (earlier phases run first). */
  untilPhase?: string;
  /** `--yes`: approve steps approve themselves. Default false. */
  autoApprove?: boolean;
  /** Aborting it stops the run at the next safe point (e.g. Ctrl-C). */
  signal?: AbortSignal;
  /** Called with the new run's id once it is persisted, before any step runs. */
  onRunCreated?: (runId: string) => void;
}

/** Options of {@link Runner.resume}. */
export interface ResumeOptions {
  /** Pause after this phase; undefined runs to the end. */
  untilPhase?: string;
  /** Turn on auto-approval (`--yes`) for the rest of the run. */
  autoApprove?: boolean;
  signal?: AbortSignal;
}

/** Options of {@link Runner.rollback}. */
export interface RollbackOptions {
  signal?: AbortSignal;
  /** Why (recorded in the audit log). */
  reason?: string;
}

/**
 * How an execution ended:
 * - `completed`: every step applied.
 * - `rolled_back`: every started step compensated (after `rollback`, or after a failure with `onFailure: rollback`).
 * - `stopped`: paused at a safe point because a stop was requested (`cutover stop`, Ctrl-C).
 * - `paused`: paused at the end of the `--phase` it was asked to run.
 * - `failed`: a step or compensation failed, or rollback was refused; the run waits for `resume`/`rollback`.
 */
export type RunOutcome = 'completed' | 'rolled_back' | 'stopped' | 'paused' | 'failed';

/** What {@link Runner.start}, {@link Runner.resume} and {@link Runner.rollback} return. */
export interface RunResult {
  outcome: RunOutcome;
  run: RunRecord;
  steps: StepRecord[];
  /** The failure (a step's, a compensation's, or the rollback refusal), when `outcome` is `failed` or a failure caused the rollback. */
  error?: StoredError;
  /** True when the rollback ran because a step failed (`onFailure: rollback`). */
  rolledBackAfterFailure?: boolean;
}

/** The abort reason of a requested stop (`cutover stop`, Ctrl-C): pause at the next safe point. */
class StopRequested extends CutoverError {
  constructor(readonly via: string) {
    super('RUN_STOPPED', 'refused', `The run was stopped (${via}).`);
  }
}

function isStopReason(value: unknown): value is StopRequested {
  return value instanceof StopRequested;
}

/** The lease resource of a plan: one executor per plan name (per database). */
export function planLeaseResource(planName: string): string {
  return `plan:${planName}`;
}

/** Converts a validated plan into the snapshot stored with a run. */
export function toStoredPlan(plan: Plan): StoredPlan {
  return {
    name: plan.name,
    ...(plan.file === undefined ? {} : { file: plan.file }),
    dir: plan.dir,
    hash: plan.hash,
    environment: plan.environment,
    onFailure: plan.onFailure,
    ...(plan.migrations === undefined ? {} : { migrations: plan.migrations }),
    webhooks: plan.webhooks,
    guards: plan.guards,
    phases: plan.phases.map((phase) => ({
      name: phase.name,
      irreversible: phase.irreversible,
      steps: phase.steps.map((step) => ({
        id: step.id,
        phase: step.phase,
        index: step.index,
        kind: step.kind,
        spec: step.spec,
        ...(step.location === undefined ? {} : { location: step.location }),
      })),
    })),
  };
}

/**
 * Executes plans as durable runs (a persisted state machine in schema
 * `cutover`, see `ControlStore`).
 *
 * - **Order and persistence**: steps run in plan order; each transition
 *   (step started, completed, failed, compensating, compensated; run paused,
 *   failed, completed, rolled back) is written with its audit event in one
 *   transaction before the runner goes on.
 * - **Lease**: one executor per plan name: `start`, `resume` and `rollback`
 *   take the lease `plan:<name>` (owner id, host, pid, expiry in server time,
 *   default TTL 15 s) and renew it by heartbeat (every TTL/3) on a dedicated
 *   connection. A live holder makes them fail with `LEASE_HELD`; an expired
 *   lease (or one whose holder pid is dead on this host) is taken over and the
 *   interruption is recorded (`run.interrupted`). Step writes are fenced: a
 *   runner that lost its lease cannot write (`LEASE_LOST`).
 * - **Resume**: steps recorded `completed` are never applied again; a step
 *   that was running when the process died is applied again and must be
 *   idempotent (step kinds use the migration history, checkpoints committed
 *   with their data, persisted deadlines, completion markers).
 * - **Stop**: a stop request (`requestStop`, or the `signal` option) aborts
 *   `ctx.signal`; the step stops at its next safe point (or the run stops
 *   before the next step) and the run is `paused`.
 * - **Rollback**: compensates every started step in reverse order, refuses
 *   once a step of an `irreversible` phase has started
 *   (`ROLLBACK_PAST_POINT_OF_NO_RETURN`), pre-flights `checkCompensation` so a
 *   rollback that cannot finish refuses before changing anything, and is
 *   itself durable and resumable. A failing step triggers it when the plan
 *   says `onFailure: rollback`; with `pause` the run becomes `failed` and waits.
 * - A lost database connection during a step is not a step failure: the
 *   runner throws `DATABASE_UNREACHABLE`, the run stays `running` and its
 *   lease expires; `resume` continues.
 *
 * Timers for the heartbeat and stop polling are real time (the lease expiry is
 * the database server's time); the injected clock drives timestamps and waits.
 */
export class Runner {
  readonly store: ControlStore;
  private readonly options: RunnerOptions;
  private readonly clock: Clock;
  private readonly actor: string;
  private readonly ttlMs: number;
  private readonly owner: { id: string; host: string; pid: number };

  constructor(options: RunnerOptions) {
    this.options = options;
    this.store = new ControlStore(options.pool);
    this.clock = options.clock ?? createSystemClock();
    this.actor = options.actor ?? defaultActor();
    this.ttlMs = options.leaseTtlMs ?? 15_000;
    this.owner = {
      id: options.owner?.id ?? randomUUID(),
      host: options.owner?.host ?? hostname(),
      pid: options.owner?.pid ?? process.pid,
    };
  }

  /**
   * Starts a new run of `plan` and executes it.
   *
   * @throws CutoverError `LEASE_HELD` (busy) when another live process runs
   *   this plan; `RUN_UNFINISHED` (refused) when an earlier run of the plan is
   *   paused or failed (resume or roll it back first); `PHASE_NOT_FOUND` (usage);
   *   `LEASE_LOST` (busy); `DATABASE_UNREACHABLE` (unavailable).
   */
  async start(plan: Plan, options: StartOptions = {}): Promise<RunResult> {
    if (options.untilPhase !== undefined)
      checkPhase(
        plan.phases.map((p) => p.name),
        options.untilPhase,
      );
    const resource = planLeaseResource(plan.name);
    await this.acquire(resource, undefined);
    let runId: string;
    try {
      const unfinished = await this.store.listRuns({
        planName: plan.name,
        unfinishedOnly: true,
        limit: 1,
      });
      const open = unfinished[0];
      if (open !== undefined) {
        const short = open.id.slice(0, 8);
        throw new CutoverError(
          'RUN_UNFINISHED',
          'refused',
          `Plan ${plan.name} has an unfinished run ${short} (${open.status}${open.mode === 'rollback' ? ', rolling back' : ''}).`,
          {
            location: open.id,
            hint: `Continue it with \`cutover resume ${short}\` or undo it with \`cutover rollback ${short}\`.`,
            details: { runId: open.id, status: open.status, mode: open.mode },
          },
        );
      }
      runId = (this.options.newId ?? randomUUID)();
      const stored = toStoredPlan(plan);
      const at = this.now();
      await this.store.transaction(async (client) => {
        await this.store.createRun(
          {
            id: runId,
            plan: stored,
            createdBy: this.actor,
            at,
            untilPhase: options.untilPhase,
            autoApprove: options.autoApprove === true,
          },
          client,
        );
        await this.store.renewLease(resource, this.owner.id, this.ttlMs, { runId }, client);
        await this.store.appendEvent(
          {
            runId,
            type: 'run.started',
            actor: this.actor,
            at,
            details: {
              plan: plan.name,
              planHash: plan.hash,
              planFile: plan.file ?? null,
              environment: plan.environment,
              steps: plan.steps.length,
              untilPhase: options.untilPhase ?? null,
              autoApprove: options.autoApprove === true,
              host: this.owner.host,
              pid: this.owner.pid,
            },
          },
          client,
        );
      });
      await this.emitLast(runId);
    } catch (error) {
      await this.store.releaseLease(resource, this.owner.id).catch(() => undefined);
      throw error;
    }
    options.onRunCreated?.(runId);
    const run = await this.requireRun(runId);
    await this.webhook('started', run, {});
    return this.execute(run, options.signal);
  }

  /**
   * Continues a run that was stopped, paused, failed, or interrupted (the
   * process died): in apply mode it applies the remaining steps (retrying a
   * failed or interrupted one); in rollback mode it continues the rollback.
   *
   * @param ref Run id or unique prefix; undefined for the most recent unfinished run.
   * @throws CutoverError `RUN_NOT_FOUND` (not_found), `RUN_FINISHED` (refused),
   *   `LEASE_HELD` (busy), `PHASE_NOT_FOUND` (usage).
   */
  async resume(ref: string | undefined, options: ResumeOptions = {}): Promise<RunResult> {
    const found = await this.store.findRun(ref);
    if (found.status === 'completed' || found.status === 'rolled_back') {
      throw new CutoverError(
        'RUN_FINISHED',
        'refused',
        `Run ${found.id.slice(0, 8)} is ${found.status.replace('_', ' ')}; there is nothing to resume.`,
        {
          location: found.id,
          hint:
            found.status === 'completed'
              ? 'Start a new run with `cutover run`, or undo this one with `cutover rollback`.'
              : 'Start a new run with `cutover run`.',
        },
      );
    }
    if (options.untilPhase !== undefined) {
      checkPhase(
        found.plan.phases.map((p) => p.name),
        options.untilPhase,
      );
    }
    const resource = planLeaseResource(found.planName);
    const previous = await this.acquire(resource, found.id);
    try {
      await this.primeEmitter(found.id);
      const run = await this.requireRun(found.id);
      await this.recordInterruption(run, previous);
      await this.store.transaction(async (client) => {
        await this.store.updateRun(
          run.id,
          {
            status: 'running',
            untilPhase: options.untilPhase ?? null,
            ...(options.autoApprove === true ? { autoApprove: true } : {}),
            stopRequestedAt: null,
            stopRequestedBy: null,
            // A rollback keeps the failure that caused it.
            ...(run.mode === 'rollback' ? {} : { error: null }),
            updatedAt: this.now(),
          },
          { db: client, fence: this.fence(resource) },
        );
        await this.store.appendEvent(
          {
            runId: run.id,
            type: 'run.resumed',
            actor: this.actor,
            at: this.now(),
            details: {
              mode: run.mode,
              previousStatus: run.status,
              untilPhase: options.untilPhase ?? null,
              host: this.owner.host,
              pid: this.owner.pid,
            },
          },
          client,
        );
      });
      await this.emitLast(run.id);
    } catch (error) {
      await this.store.releaseLease(resource, this.owner.id).catch(() => undefined);
      throw error;
    }
    return this.execute(await this.requireRun(found.id), options.signal);
  }

  /**
   * Rolls a run back: compensates its started steps in reverse order. Also
   * continues an interrupted or failed rollback.
   *
   * @throws CutoverError `ROLLBACK_PAST_POINT_OF_NO_RETURN` (refused) when a
   *   step of an irreversible phase has started; `COMPENSATION_IMPOSSIBLE`
   *   (refused) when a step cannot be compensated (nothing was changed);
   *   `RUN_NOT_FOUND`, `LEASE_HELD`.
   */
  async rollback(ref: string | undefined, options: RollbackOptions = {}): Promise<RunResult> {
    const found = await this.store.findRun(ref);
    if (found.status === 'rolled_back') {
      return { outcome: 'rolled_back', run: found, steps: await this.store.getSteps(found.id) };
    }
    const resource = planLeaseResource(found.planName);
    const previous = await this.acquire(resource, found.id);
    try {
      await this.primeEmitter(found.id);
      const run = await this.requireRun(found.id);
      await this.recordInterruption(run, previous);
      const steps = await this.store.getSteps(run.id);
      if (run.mode !== 'rollback') {
        const refusal = await this.rollbackRefusal(run, steps);
        if (refusal !== undefined) {
          await this.event({
            runId: run.id,
            type: 'rollback.refused',
            details: { error: toStoredError(refusal) },
          });
          throw refusal;
        }
      }
      await this.store.transaction(async (client) => {
        await this.store.updateRun(
          run.id,
          {
            status: 'running',
            mode: 'rollback',
            stopRequestedAt: null,
            stopRequestedBy: null,
            // A rollback on request is not a failure; continuing one keeps its cause.
            ...(run.mode === 'rollback' ? {} : { error: null }),
            updatedAt: this.now(),
          },
          { db: client, fence: this.fence(resource) },
        );
        await this.store.appendEvent(
          {
            runId: run.id,
            type: run.mode === 'rollback' ? 'rollback.resumed' : 'rollback.started',
            actor: this.actor,
            at: this.now(),
            details: {
              reason: options.reason ?? 'requested',
              previousStatus: run.status,
              host: this.owner.host,
              pid: this.owner.pid,
            },
          },
          client,
        );
      });
      await this.emitLast(run.id);
    } catch (error) {
      await this.store.releaseLease(resource, this.owner.id).catch(() => undefined);
      throw error;
    }
    return this.execute(await this.requireRun(found.id), options.signal);
  }

  // ------------------------------------------------------------------ execution

  private async execute(initial: RunRecord, external: AbortSignal | undefined): Promise<RunResult> {
    const resource = planLeaseResource(initial.planName);
    const controller = new AbortController();
    const onExternal = (): void => {
      if (!controller.signal.aborted) controller.abort(new StopRequested('interrupt'));
    };
    if (external?.aborted) onExternal();
    external?.addEventListener('abort', onExternal);
    const heartbeat = new pg.Pool({
      connectionString: this.options.databaseUrl,
      max: 1,
      application_name: 'cutover heartbeat',
      connectionTimeoutMillis: 5_000,
    });
    heartbeat.on('error', () => undefined);
    const heartbeatStore = new ControlStore(heartbeat);
    let beating = false;
    const heartbeatTimer = setInterval(
      () => {
        if (beating) return;
        beating = true;
        heartbeatStore
          .renewLease(resource, this.owner.id, this.ttlMs, { runId: initial.id })
          .then((held) => {
            if (!held && !controller.signal.aborted)
              controller.abort(leaseLost(this.fence(resource)));
          })
          .catch(() => undefined) // database unreachable: keep trying; the lease may expire
          .finally(() => {
            beating = false;
          });
      },
      this.options.heartbeatMs ?? Math.max(50, Math.floor(this.ttlMs / 3)),
    );
    let polling = false;
    const pollTimer = setInterval(() => {
      if (polling || controller.signal.aborted) return;
      polling = true;
      heartbeatStore
        .getRun(initial.id)
        .then((run) => {
          if (run?.stopRequestedAt !== undefined && !controller.signal.aborted) {
            controller.abort(new StopRequested(`requested by ${run.stopRequestedBy ?? 'someone'}`));
          }
        })
        .catch(() => undefined)
        .finally(() => {
          polling = false;
        });
    }, this.options.pollMs ?? 500);
    try {
      if (initial.stopRequestedAt !== undefined) onExternal();
      const result =
        initial.mode === 'rollback'
          ? await this.compensateAll(initial, controller.signal, undefined)
          : await this.applyAll(initial, controller.signal);
      return result;
    } finally {
      clearInterval(heartbeatTimer);
      clearInterval(pollTimer);
      external?.removeEventListener('abort', onExternal);
      await heartbeat.end().catch(() => undefined);
      await this.store.releaseLease(resource, this.owner.id).catch(() => undefined);
    }
  }

  private async applyAll(run: RunRecord, signal: AbortSignal): Promise<RunResult> {
    const resource = planLeaseResource(run.planName);
    const fence = this.fence(resource);
    const steps = await this.store.getSteps(run.id);
    const phaseOrder = run.plan.phases.map((p) => p.name);
    const untilIndex =
      run.untilPhase === undefined ? undefined : phaseOrder.indexOf(run.untilPhase);
    const completed: CompletedStep[] = [];
    for (const step of steps) {
      if (step.status === 'completed') {
        completed.push(this.completedView(step));
        continue;
      }
      if (
        untilIndex !== undefined &&
        untilIndex >= 0 &&
        phaseOrder.indexOf(step.phase) > untilIndex
      ) {
        return this.pause(run, step, `end of phase ${run.untilPhase}`, 'paused');
      }
      if (signal.aborted) return this.onAbort(run, step, signal, 'before');

      const attempt = step.attempt + 1;
      await this.transition(run.id, step.stepId, fence, {
        patch: {
          status: 'running',
          attempt,
          ...(step.startedAt === undefined ? { startedAt: this.now() } : {}),
          finishedAt: null,
          error: null,
        },
        event: {
          type: 'step.started',
          details: { kind: step.kind, attempt, ...(attempt > 1 ? { retry: true } : {}) },
        },
      });
      const started = this.clock.now();
      let output: unknown;
      try {
        const kind = this.kindOf(step);
        const spec = parseSpec(kind, step);
        const ctx = this.context(run, step, signal, completed, fence);
        output = await kind.apply(spec, ctx);
        await ctx.flushProgress();
      } catch (error) {
        if (signal.aborted) {
          if (isStopReason(signal.reason)) return this.onAbort(run, step, signal, 'during');
          throw signal.reason;
        }
        if (isInfrastructureError(error)) throw error;
        return this.onStepFailure(run, step, error, signal);
      }
      await this.transition(run.id, step.stepId, fence, {
        patch: {
          status: 'completed',
          output: output ?? null,
          finishedAt: this.now(),
          error: null,
        },
        event: {
          type: 'step.completed',
          details: { kind: step.kind, attempt, durationMs: this.clock.now() - started },
        },
      });
      completed.push(this.completedView({ ...step, output }));
    }
    const finished = this.now();
    await this.store.transaction(async (client) => {
      await this.store.updateRun(
        run.id,
        { status: 'completed', finishedAt: finished, updatedAt: finished, error: null },
        { db: client, fence },
      );
      await this.store.appendEvent(
        {
          runId: run.id,
          type: 'run.completed',
          actor: this.actor,
          at: finished,
          details: { durationMs: finished.getTime() - run.createdAt.getTime() },
        },
        client,
      );
    });
    await this.emitLast(run.id);
    const done = await this.requireRun(run.id);
    await this.webhook('finished', done, {});
    return { outcome: 'completed', run: done, steps: await this.store.getSteps(run.id) };
  }

  private async onStepFailure(
    run: RunRecord,
    step: StepRecord,
    error: unknown,
    signal: AbortSignal,
  ): Promise<RunResult> {
    const resource = planLeaseResource(run.planName);
    const fence = this.fence(resource);
    const stored = toStoredError(error);
    await this.transition(run.id, step.stepId, fence, {
      patch: { status: 'failed', error: stored, finishedAt: this.now() },
      event: { type: 'step.failed', details: { kind: step.kind, error: stored } },
    });
    const current = await this.requireRun(run.id);
    await this.webhook('step_failed', current, {
      step: { id: step.stepId, kind: step.kind },
      error: stored,
    });
    if (run.onFailure === 'rollback') {
      const steps = await this.store.getSteps(run.id);
      const refusal = await this.rollbackRefusal(run, steps);
      if (refusal === undefined) {
        await this.store.transaction(async (client) => {
          await this.store.updateRun(
            run.id,
            { mode: 'rollback', error: stored, updatedAt: this.now() },
            { db: client, fence },
          );
          await this.store.appendEvent(
            {
              runId: run.id,
              stepId: step.stepId,
              type: 'rollback.started',
              actor: this.actor,
              at: this.now(),
              details: { reason: `step ${step.stepId} failed`, automatic: true },
            },
            client,
          );
        });
        await this.emitLast(run.id);
        return this.compensateAll(await this.requireRun(run.id), signal, stored);
      }
      await this.event({
        runId: run.id,
        stepId: step.stepId,
        type: 'rollback.refused',
        details: { error: toStoredError(refusal), automatic: true },
      });
      stored.hint = `Automatic rollback refused: ${refusal.message} Fix the cause and \`cutover resume ${run.id.slice(0, 8)}\` to roll forward.`;
    }
    const at = this.now();
    await this.store.transaction(async (client) => {
      await this.store.updateRun(
        run.id,
        { status: 'failed', error: stored, updatedAt: at },
        { db: client, fence },
      );
      await this.store.appendEvent(
        {
          runId: run.id,
          stepId: step.stepId,
          type: 'run.failed',
          actor: this.actor,
          at,
          details: { error: stored, onFailure: run.onFailure },
        },
        client,
      );
    });
    await this.emitLast(run.id);
    const failed = await this.requireRun(run.id);
    await this.webhook('failed', failed, {
      step: { id: step.stepId, kind: step.kind },
      error: stored,
    });
    return {
      outcome: 'failed',
      run: failed,
      steps: await this.store.getSteps(run.id),
      error: stored,
    };
  }

  private async compensateAll(
    run: RunRecord,
    signal: AbortSignal,
    cause: StoredError | undefined,
  ): Promise<RunResult> {
    const resource = planLeaseResource(run.planName);
    const fence = this.fence(resource);
    const steps = await this.store.getSteps(run.id);
    const failureCause =
      cause ?? (run.error?.code === 'COMPENSATION_FAILED' ? undefined : run.error);
    const toUndo = steps.filter((s) => COMPENSABLE.has(s.status)).reverse();
    for (const step of toUndo) {
      if (signal.aborted) {
        if (!isStopReason(signal.reason)) throw signal.reason;
        return this.pause(run, step, stopVia(signal), 'stopped');
      }
      const kind = this.kindOf(step);
      if (kind.compensate === undefined) {
        await this.transition(run.id, step.stepId, fence, {
          patch: { status: 'compensated', compensatedAt: this.now() },
          event: {
            type: 'step.compensated',
            details: { kind: step.kind, nothingToUndo: true },
          },
        });
        continue;
      }
      await this.transition(run.id, step.stepId, fence, {
        patch: {
          status: 'compensating',
          ...(step.compensationStartedAt === undefined
            ? { compensationStartedAt: this.now() }
            : {}),
        },
        event: { type: 'step.compensating', details: { kind: step.kind } },
      });
      const started = this.clock.now();
      try {
        const spec = parseSpec(kind, step);
        const completedBefore = steps
          .filter((s) => s.position < step.position && s.status === 'completed')
          .map((s) => this.completedView(s));
        const ctx = this.context(run, step, signal, completedBefore, fence);
        await kind.compensate(spec, outputOf(step), ctx);
        await ctx.flushProgress();
      } catch (error) {
        if (signal.aborted) {
          if (!isStopReason(signal.reason)) throw signal.reason;
          return this.pause(run, step, stopVia(signal), 'stopped');
        }
        if (isInfrastructureError(error)) throw error;
        const stored = toStoredError(error);
        const runError: StoredError = {
          code: 'COMPENSATION_FAILED',
          category: 'failed',
          message: `Compensation of step ${step.stepId} (${step.kind}) failed: ${stored.message}`,
          hint: `Fix the cause, then \`cutover rollback ${run.id.slice(0, 8)}\` continues the rollback.`,
          details: { step: step.stepId, error: stored },
        };
        const at = this.now();
        await this.store.transaction(async (client) => {
          await this.store.updateStep(
            run.id,
            step.stepId,
            { error: stored },
            { db: client, fence },
          );
          await this.store.updateRun(
            run.id,
            { status: 'failed', error: runError, updatedAt: at },
            { db: client, fence },
          );
          await this.store.appendEvent(
            {
              runId: run.id,
              stepId: step.stepId,
              type: 'compensation.failed',
              actor: this.actor,
              at,
              details: { kind: step.kind, error: stored },
            },
            client,
          );
        });
        await this.emitLast(run.id);
        const failed = await this.requireRun(run.id);
        await this.webhook('failed', failed, {
          step: { id: step.stepId, kind: step.kind },
          error: runError,
        });
        return {
          outcome: 'failed',
          run: failed,
          steps: await this.store.getSteps(run.id),
          error: runError,
        };
      }
      await this.transition(run.id, step.stepId, fence, {
        patch: { status: 'compensated', compensatedAt: this.now(), error: null },
        event: {
          type: 'step.compensated',
          details: { kind: step.kind, durationMs: this.clock.now() - started },
        },
      });
    }
    const at = this.now();
    await this.store.transaction(async (client) => {
      await this.store.updateRun(
        run.id,
        {
          status: 'rolled_back',
          finishedAt: at,
          updatedAt: at,
          ...(failureCause === undefined ? { error: null } : { error: failureCause }),
        },
        { db: client, fence },
      );
      await this.store.appendEvent(
        {
          runId: run.id,
          type: 'run.rolled_back',
          actor: this.actor,
          at,
          details: failureCause === undefined ? {} : { cause: failureCause },
        },
        client,
      );
    });
    await this.emitLast(run.id);
    const done = await this.requireRun(run.id);
    await this.webhook('rolled_back', done, {
      ...(failureCause === undefined ? {} : { error: failureCause, note: 'after a failure' }),
    });
    return {
      outcome: 'rolled_back',
      run: done,
      steps: await this.store.getSteps(run.id),
      ...(failureCause === undefined ? {} : { error: failureCause, rolledBackAfterFailure: true }),
    };
  }

  /** Why a rollback of `run` must be refused, or undefined when it may go ahead. */
  private async rollbackRefusal(
    run: RunRecord,
    steps: StepRecord[],
  ): Promise<CutoverError | undefined> {
    const pastPoint = steps.find((s) => s.phaseIrreversible && s.status !== 'pending');
    if (pastPoint !== undefined) {
      return new CutoverError(
        'ROLLBACK_PAST_POINT_OF_NO_RETURN',
        'refused',
        `Run ${run.id.slice(0, 8)} cannot be rolled back: phase ${pastPoint.phase} is irreversible (a point of no return) and its step ${pastPoint.stepId} has started.`,
        {
          location: pastPoint.location ?? pastPoint.stepId,
          hint:
            run.status === 'completed'
              ? 'Roll forward instead: write a new plan that undoes the change.'
              : `Roll forward instead: fix the cause and \`cutover resume ${run.id.slice(0, 8)}\`, or write a new plan that undoes the change.`,
          details: { phase: pastPoint.phase, step: pastPoint.stepId },
        },
      );
    }
    const signal = new AbortController().signal;
    for (const step of steps.filter((s) => COMPENSABLE.has(s.status)).reverse()) {
      const kind = this.options.registry.get(step.kind);
      if (kind?.checkCompensation === undefined) continue;
      try {
        const spec = parseSpec(kind, step);
        await kind.checkCompensation(
          spec,
          outputOf(step),
          this.context(run, step, signal, [], undefined),
        );
      } catch (error) {
        if (isCutoverError(error)) {
          return new CutoverError(
            error.code,
            error.category,
            `Step ${step.stepId} (${step.kind}) cannot be compensated: ${error.message}`,
            {
              location: step.location ?? step.stepId,
              ...(error.hint === undefined ? {} : { hint: error.hint }),
              details: { step: step.stepId, ...(error.details ?? {}) },
            },
          );
        }
        throw error;
      }
    }
    return undefined;
  }

  private async onAbort(
    run: RunRecord,
    step: StepRecord,
    signal: AbortSignal,
    when: 'before' | 'during',
  ): Promise<RunResult> {
    if (!isStopReason(signal.reason)) throw signal.reason;
    if (when === 'during') {
      await this.transition(run.id, step.stepId, this.fence(planLeaseResource(run.planName)), {
        patch: { status: 'paused' },
        event: { type: 'step.paused', details: { kind: step.kind } },
      });
    }
    return this.pause(run, step, stopVia(signal), 'stopped');
  }

  private async pause(
    run: RunRecord,
    step: StepRecord,
    reason: string,
    outcome: 'paused' | 'stopped',
  ): Promise<RunResult> {
    const fence = this.fence(planLeaseResource(run.planName));
    const at = this.now();
    await this.store.transaction(async (client) => {
      await this.store.updateRun(
        run.id,
        { status: 'paused', stopRequestedAt: null, stopRequestedBy: null, updatedAt: at },
        { db: client, fence },
      );
      await this.store.appendEvent(
        {
          runId: run.id,
          stepId: step.stepId,
          type: 'run.paused',
          actor: this.actor,
          at,
          details: { reason, mode: run.mode, nextStep: step.stepId },
        },
        client,
      );
    });
    await this.emitLast(run.id);
    const paused = await this.requireRun(run.id);
    await this.webhook('paused', paused, {
      step: { id: step.stepId, kind: step.kind },
      note: reason,
    });
    return { outcome, run: paused, steps: await this.store.getSteps(run.id) };
  }

  // ------------------------------------------------------------------ helpers

  private context(
    run: RunRecord,
    step: StepRecord,
    signal: AbortSignal,
    completed: readonly CompletedStep[],
    fence: Fence | undefined,
  ): StepContext & { flushProgress(): Promise<void> } {
    const store = this.store;
    let lastWrite = 0;
    let pending: StepProgress | undefined;
    let writing: Promise<void> = Promise.resolve();
    const write = (progress: StepProgress): void => {
      pending = undefined;
      lastWrite = Date.now();
      writing = writing
        .then(() => store.updateStep(run.id, step.stepId, { progress }))
        .catch(() => undefined);
    };
    return {
      runId: run.id,
      stepId: step.stepId,
      pool: this.options.pool,
      databaseUrl: this.options.databaseUrl,
      planDir: run.planDir,
      stateDir: this.options.stateDir ?? join(process.cwd(), '.cutover'),
      environment: run.environment,
      signal,
      clock: this.clock,
      actor: this.actor,
      autoApprove: run.autoApprove,
      ...(run.plan.migrations === undefined ? {} : { migrations: run.plan.migrations }),
      completedSteps: completed,
      log: async (type, details) => {
        await this.event({ runId: run.id, stepId: step.stepId, type, details: details ?? {} });
        if (type === 'approval.waiting') {
          await this.webhook('approval_needed', run, {
            step: { id: step.stepId, kind: step.kind },
          });
        }
      },
      progress: (progress) => {
        this.options.onProgress?.(step.stepId, progress);
        if (Date.now() - lastWrite >= 1_000) write(progress);
        else pending = progress;
      },
      checkpoint: {
        load: async <T>() => {
          const current = await store.getStep(run.id, step.stepId);
          return (current?.checkpoint ?? undefined) as T | undefined;
        },
        save: async <T>(value: T, client?: pg.PoolClient) => {
          await store.updateStep(
            run.id,
            step.stepId,
            { checkpoint: value ?? null },
            { ...(client === undefined ? {} : { db: client }), ...(fence ? { fence } : {}) },
          );
        },
      },
      flushProgress: async () => {
        if (pending !== undefined) write(pending);
        await writing;
      },
    };
  }

  private completedView(step: StepRecord & { output?: unknown }): CompletedStep {
    const kind = this.options.registry.get(step.kind);
    const parsed = kind?.schema.safeParse(step.spec ?? {});
    return {
      id: step.stepId,
      kind: step.kind,
      spec: parsed?.success ? parsed.data : step.spec,
      output: step.output,
    };
  }

  private kindOf(step: StepRecord): AnyStepKind {
    const kind = this.options.registry.get(step.kind);
    if (kind === undefined) {
      throw new CutoverError(
        'STEP_KIND_UNKNOWN',
        'config',
        `Step ${step.stepId} has kind "${step.kind}", which this cutover does not know.`,
        {
          location: step.location ?? step.stepId,
          hint: `Run it with a cutover that has the "${step.kind}" step kind. Known kinds: ${this.options.registry.names().join(', ')}.`,
        },
      );
    }
    return kind;
  }

  private async transition(
    runId: string,
    stepId: string,
    fence: Fence,
    change: {
      patch: Parameters<ControlStore['updateStep']>[2];
      event: { type: string; details: Record<string, unknown> };
    },
  ): Promise<void> {
    const at = this.now();
    await this.store.transaction(async (client) => {
      await this.store.updateStep(runId, stepId, change.patch, { db: client, fence });
      await this.store.updateRun(runId, { updatedAt: at }, { db: client });
      await this.store.appendEvent(
        {
          runId,
          stepId,
          type: change.event.type,
          actor: this.actor,
          at,
          details: change.event.details,
        },
        client,
      );
    });
    await this.emitLast(runId);
  }

  private async event(event: {
    runId: string;
    stepId?: string;
    type: string;
    details: Record<string, unknown>;
  }): Promise<void> {
    await this.store.appendEvent({ ...event, actor: this.actor, at: this.now() });
    await this.emitLast(event.runId);
  }

  /** Last event id passed to `onEvent`, per run. */
  private readonly lastEmitted = new Map<string, number>();

  /** Starts passing a run's events to `onEvent` from now on (not its history). */
  private async primeEmitter(runId: string): Promise<void> {
    if (this.options.onEvent === undefined || this.lastEmitted.has(runId)) return;
    const events = await this.store.listEvents(runId);
    this.lastEmitted.set(runId, events.at(-1)?.id ?? 0);
  }

  /** Passes the run's events appended since the last call to `onEvent` (in log order). */
  private async emitLast(runId: string): Promise<void> {
    if (this.options.onEvent === undefined) return;
    const events = await this.store.listEvents(runId, {
      afterId: this.lastEmitted.get(runId) ?? 0,
    });
    for (const event of events) {
      this.lastEmitted.set(runId, event.id);
      this.options.onEvent(event);
    }
  }

  private async webhook(
    name: RunEventName,
    run: RunRecord,
    options: { step?: { id: string; kind: string }; error?: StoredError; note?: string },
  ): Promise<void> {
    for (const hook of run.plan.webhooks) {
      if (!hook.events.includes(name)) continue;
      const payload = runEventPayload(name, run, { actor: this.actor, at: this.now(), ...options });
      try {
        await postWebhook(hook.url, payload, {
          timeoutMs: this.options.webhookTimeoutMs ?? 5_000,
          attempts: 2,
          ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
        });
      } catch (error) {
        await this.event({
          runId: run.id,
          type: 'webhook.failed',
          details: {
            webhook: safeOrigin(hook.url),
            event: payload.event,
            error: toStoredError(error),
          },
        }).catch(() => undefined);
      }
    }
  }

  /** Takes the lease or throws LEASE_HELD naming the holder; returns the previous (expired or dead) holder. */
  private async acquire(
    resource: string,
    runId: string | undefined,
  ): Promise<LeaseRecord | undefined> {
    const isAlive =
      this.options.isProcessAlive ??
      ((pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch (error) {
          return (error as NodeJS.ErrnoException).code === 'EPERM';
        }
      });
    const result = await this.store.acquireLease({
      resource,
      runId,
      ownerId: this.owner.id,
      host: this.owner.host,
      pid: this.owner.pid,
      ttlMs: this.ttlMs,
      takeOver: (holder) =>
        holder.host === this.owner.host && holder.pid !== this.owner.pid && !isAlive(holder.pid),
    });
    if (result.acquired) return result.previous;
    const holder = result.holder;
    const short = holder.runId?.slice(0, 8);
    const seconds = Math.max(0, Math.ceil(holder.expiresInMs / 1000));
    throw new CutoverError(
      'LEASE_HELD',
      'busy',
      `${resource.replace(/^plan:/, 'Plan ')} is being run by pid ${holder.pid} on ${holder.host}${short ? ` (run ${short})` : ''}; its lease was renewed at ${holder.renewedAt.toISOString()} and expires in ${seconds} s unless renewed.`,
      {
        location: resource,
        hint: short
          ? `Wait for it, or stop it with \`cutover stop ${short}\`; if that process is dead, \`cutover resume ${short}\` takes over once the lease expires.`
          : 'Wait for it to finish; if that process is dead, retry once the lease expires.',
        details: {
          holder: {
            ownerId: holder.ownerId,
            host: holder.host,
            pid: holder.pid,
            runId: holder.runId ?? null,
            renewedAt: holder.renewedAt.toISOString(),
            expiresAt: holder.expiresAt.toISOString(),
          },
        },
      },
    );
  }

  private async recordInterruption(
    run: RunRecord,
    previous: LeaseRecord | undefined,
  ): Promise<void> {
    if (run.status !== 'running') return;
    const steps = await this.store.getSteps(run.id);
    const inFlight = steps.filter((s) => s.status === 'running' || s.status === 'compensating');
    await this.event({
      runId: run.id,
      stepId: inFlight[0]?.stepId,
      type: 'run.interrupted',
      details: {
        mode: run.mode,
        steps: inFlight.map((s) => ({ id: s.stepId, status: s.status, attempt: s.attempt })),
        previousHolder:
          previous === undefined
            ? null
            : {
                host: previous.host,
                pid: previous.pid,
                ownerId: previous.ownerId,
                expired: previous.expired,
                renewedAt: previous.renewedAt.toISOString(),
              },
      },
    });
  }

  private async requireRun(id: string): Promise<RunRecord> {
    const run = await this.store.getRun(id);
    if (run === undefined) {
      throw new CutoverError('RUN_NOT_FOUND', 'not_found', `No run has the id ${id}.`, {
        location: id,
      });
    }
    return run;
  }

  private fence(resource: string): Fence {
    return { resource, ownerId: this.owner.id };
  }

  private now(): Date {
    return new Date(this.clock.now());
  }
}

const COMPENSABLE = new Set(['completed', 'failed', 'running', 'paused', 'compensating']);

function outputOf(step: StepRecord): unknown {
  return step.output ?? undefined;
}

function parseSpec(kind: AnyStepKind, step: StepRecord): unknown {
  const parsed = kind.schema.safeParse(step.spec ?? {});
  if (!parsed.success) {
    throw new CutoverError(
      'STEP_SPEC_INVALID',
      'config',
      `The stored spec of step ${step.stepId} (${step.kind}) is not valid for this cutover: ${parsed.error.issues[0]?.message ?? 'invalid'}.`,
      {
        location: step.location ?? step.stepId,
        hint: 'Run it with the cutover version that started it.',
      },
    );
  }
  return parsed.data;
}

function stopVia(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  const via = reason instanceof StopRequested ? reason.via : 'requested';
  return via === 'interrupt' ? 'interrupted' : `stop ${via}`;
}

function isInfrastructureError(error: unknown): boolean {
  if (isCutoverError(error))
    return error.code === 'DATABASE_UNREACHABLE' || error.code === 'LEASE_LOST';
  return isConnectionError(error);
}

function checkPhase(phases: string[], name: string): void {
  if (!phases.includes(name)) {
    throw new CutoverError('PHASE_NOT_FOUND', 'usage', `The plan has no phase "${name}".`, {
      location: '--phase',
      hint: `Use one of: ${phases.join(', ')}.`,
    });
  }
}
