import type { PlanGuard, PlanMigrations, PlanWebhook, OnFailure } from '../plan/plan-types.js';
import type { StepProgress } from '../steps/step-kind.js';

/**
 * Status of a run.
 * - `running`: an executor holds (or held, if it crashed) the run's lease and is applying or rolling back.
 * - `paused`: stopped at a safe point (`cutover stop`, Ctrl-C, end of `--phase`); `resume` continues.
 * - `failed`: a step (or a compensation) failed and the run waits for a human: `resume` retries, `rollback` compensates.
 * - `completed`: every step applied (terminal; `rollback` is still possible before a point of no return).
 * - `rolled_back`: every started step compensated (terminal).
 */
export type RunStatus = 'running' | 'paused' | 'failed' | 'completed' | 'rolled_back';

/** What a run is doing: applying its steps in order, or compensating them in reverse order. */
export type RunMode = 'apply' | 'rollback';

/**
 * Status of a step.
 * `pending` → `running` → `completed` (or `failed`, or `paused` when stopped part-way);
 * in a rollback: → `compensating` → `compensated`.
 */
export type StepStatus =
  'pending' | 'running' | 'paused' | 'completed' | 'failed' | 'compensating' | 'compensated';

/** An error as stored (the JSON view of a CutoverError, or `{ code: 'INTERNAL', message }`). */
export interface StoredError {
  code: string;
  category: string;
  message: string;
  location?: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/** A step as stored with its run's plan snapshot. */
export interface StoredPlanStep {
  id: string;
  phase: string;
  index: number;
  kind: string;
  /** Interpolated spec as written (parsed by the kind's schema when executed). */
  spec: unknown;
  location?: string;
}

/**
 * The plan snapshot a run executes (stored in `cutover.runs.plan`). `resume`
 * and `rollback` use it, not the plan file, so a run finishes as it started.
 * The database URL is not stored.
 */
export interface StoredPlan {
  name: string;
  file?: string;
  dir: string;
  hash: string;
  environment: string;
  onFailure: OnFailure;
  migrations?: PlanMigrations;
  webhooks: PlanWebhook[];
  guards: PlanGuard[];
  phases: { name: string; irreversible: boolean; steps: StoredPlanStep[] }[];
}

/** A row of `cutover.runs`. */
export interface RunRecord {
  id: string;
  planName: string;
  planFile: string | undefined;
  planDir: string;
  planHash: string;
  plan: StoredPlan;
  environment: string;
  onFailure: OnFailure;
  status: RunStatus;
  mode: RunMode;
  /** When set, the run pauses after the last step of this phase. */
  untilPhase: string | undefined;
  /** Started with `--yes`: approve steps approve themselves. */
  autoApprove: boolean;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | undefined;
  stopRequestedAt: Date | undefined;
  stopRequestedBy: string | undefined;
  error: StoredError | undefined;
}

/** A row of `cutover.steps`. */
export interface StepRecord {
  runId: string;
  /** `<phase>.<index>`. */
  stepId: string;
  /** 0-based position in the run. */
  position: number;
  phase: string;
  phaseIrreversible: boolean;
  kind: string;
  spec: unknown;
  location: string | undefined;
  status: StepStatus;
  /** How many times `apply` was started (1 on a run without interruption). */
  attempt: number;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  output: unknown;
  checkpoint: unknown;
  progress: StepProgress | undefined;
  error: StoredError | undefined;
  compensationStartedAt: Date | undefined;
  compensatedAt: Date | undefined;
}

/** A row of the append-only audit log `cutover.events`. */
export interface EventRecord {
  /** Increasing id (order of the log). */
  id: number;
  runId: string | undefined;
  stepId: string | undefined;
  /** Dotted event type, e.g. `run.started`, `step.completed`, `backfill.batch`. */
  type: string;
  /** Who: OS user, token name, or `cutover` for automatic transitions. */
  actor: string;
  at: Date;
  details: Record<string, unknown>;
}

/** A row of `cutover.leases`, with its state in server time. */
export interface LeaseRecord {
  /** What is leased, e.g. `plan:dashboard-v2`. */
  resource: string;
  runId: string | undefined;
  /** Random id of the executor (one per runner instance). */
  ownerId: string;
  host: string;
  pid: number;
  acquiredAt: Date;
  renewedAt: Date;
  expiresAt: Date;
  /** True when `expiresAt` is in the past (server time): the holder is presumed dead. */
  expired: boolean;
  /** ms until expiry (negative when expired), server time. */
  expiresInMs: number;
}

/** An approval of an `approve` step. */
export interface ApprovalRecord {
  runId: string;
  stepId: string;
  approvedBy: string;
  approvedAt: Date;
  comment: string | undefined;
}
