import type { StepProgress } from '../steps/step-kind.js';
import type {
  ApprovalRecord,
  EventRecord,
  LeaseRecord,
  RunMode,
  RunRecord,
  RunStatus,
  StepRecord,
  StepStatus,
  StoredError,
  StoredPlan,
} from './run-records.js';

/** A row of `cutover.runs`. */
export interface RunRow {
  id: string;
  plan_name: string;
  plan_file: string | null;
  plan_dir: string;
  plan_hash: string;
  plan: StoredPlan;
  environment: string;
  on_failure: 'rollback' | 'pause';
  status: RunStatus;
  mode: RunMode;
  until_phase: string | null;
  auto_approve: boolean;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  stop_requested_at: Date | null;
  stop_requested_by: string | null;
  error: StoredError | null;
}

/** A row of `cutover.steps`. */
export interface StepRow {
  run_id: string;
  step_id: string;
  position: number;
  phase: string;
  phase_irreversible: boolean;
  kind: string;
  spec: unknown;
  location: string | null;
  status: StepStatus;
  attempt: number;
  started_at: Date | null;
  finished_at: Date | null;
  output: unknown;
  checkpoint: unknown;
  progress: StepProgress | null;
  error: StoredError | null;
  compensation_started_at: Date | null;
  compensated_at: Date | null;
}

/** A row of `cutover.events`. */
export interface EventRow {
  id: string;
  run_id: string | null;
  step_id: string | null;
  type: string;
  actor: string;
  at: Date;
  details: Record<string, unknown>;
}

/** A row of `cutover.leases`, with `expired` and `expires_in_ms` computed in server time. */
export interface LeaseRow {
  resource: string;
  run_id: string | null;
  owner_id: string;
  host: string;
  pid: number;
  acquired_at: Date;
  renewed_at: Date;
  expires_at: Date;
  expired: boolean;
  expires_in_ms: number | string;
}

/** A row of `cutover.approvals`. */
export interface ApprovalRow {
  run_id: string;
  step_id: string;
  approved_by: string;
  approved_at: Date;
  comment: string | null;
}

/** The row as a {@link RunRecord}. */
export function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    planName: row.plan_name,
    planFile: row.plan_file ?? undefined,
    planDir: row.plan_dir,
    planHash: row.plan_hash,
    plan: row.plan,
    environment: row.environment,
    onFailure: row.on_failure,
    status: row.status,
    mode: row.mode,
    untilPhase: row.until_phase ?? undefined,
    autoApprove: row.auto_approve,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at ?? undefined,
    stopRequestedAt: row.stop_requested_at ?? undefined,
    stopRequestedBy: row.stop_requested_by ?? undefined,
    error: row.error ?? undefined,
  };
}

/** The row as a {@link StepRecord}. */
export function toStep(row: StepRow): StepRecord {
  return {
    runId: row.run_id,
    stepId: row.step_id,
    position: row.position,
    phase: row.phase,
    phaseIrreversible: row.phase_irreversible,
    kind: row.kind,
    spec: row.spec,
    location: row.location ?? undefined,
    status: row.status,
    attempt: row.attempt,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
    output: row.output ?? undefined,
    checkpoint: row.checkpoint ?? undefined,
    progress: row.progress ?? undefined,
    error: row.error ?? undefined,
    compensationStartedAt: row.compensation_started_at ?? undefined,
    compensatedAt: row.compensated_at ?? undefined,
  };
}

/** The row as a {@link EventRecord}. */
export function toEvent(row: EventRow): EventRecord {
  return {
    id: Number(row.id),
    runId: row.run_id ?? undefined,
    stepId: row.step_id ?? undefined,
    type: row.type,
    actor: row.actor,
    at: row.at,
    details: row.details,
  };
}

/** The row as a {@link LeaseRecord}. */
export function toLease(row: LeaseRow): LeaseRecord {
  return {
    resource: row.resource,
    runId: row.run_id ?? undefined,
    ownerId: row.owner_id,
    host: row.host,
    pid: row.pid,
    acquiredAt: row.acquired_at,
    renewedAt: row.renewed_at,
    expiresAt: row.expires_at,
    expired: row.expired,
    expiresInMs: Math.round(Number(row.expires_in_ms)),
  };
}

/** The row as an {@link ApprovalRecord}. */
export function toApproval(row: ApprovalRow): ApprovalRecord {
  return {
    runId: row.run_id,
    stepId: row.step_id,
    approvedBy: row.approved_by,
    approvedAt: row.approved_at,
    comment: row.comment ?? undefined,
  };
}
