import Table from 'cli-table3';
import { formatDuration } from '../plan/index.js';
import type { LeaseRecord } from '../store/index.js';
import type { EventRecord, RunRecord, StepRecord, StoredError } from '../store/run-records.js';
import type { StepProgress } from '../steps/index.js';

/** `HH:MM:SS` in local time. */
export function clockTime(date: Date): string {
  return date.toTimeString().slice(0, 8);
}

/** `YYYY-MM-DD HH:MM:SS` in local time. */
export function dateTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clockTime(date)}`;
}

/** The first 8 characters of a run id (unique enough for commands; they accept prefixes). */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** One human line for an audit event, as `cutover run` prints them live. */
export function eventLine(event: EventRecord): string {
  const d = event.details;
  const step = event.stepId ?? '';
  const kind = typeof d.kind === 'string' ? ` ${d.kind}` : '';
  const took = typeof d.durationMs === 'number' ? ` (${formatDuration(d.durationMs)})` : '';
  const error = (d.error ?? d.cause) as StoredError | undefined;
  const why = error?.message === undefined ? '' : `: ${error.message}`;
  const time = clockTime(event.at);
  switch (event.type) {
    case 'run.started':
      return `${time} run ${shortId(event.runId ?? '')} started: plan ${String(d.plan)}, ${String(d.steps)} steps, environment ${String(d.environment)}`;
    case 'run.resumed':
      return `${time} run ${shortId(event.runId ?? '')} resumed (${String(d.mode)}) by ${event.actor}`;
    case 'run.interrupted':
      return `${time} run was interrupted (its runner died); taking over`;
    case 'step.started':
      return `${time} ▶ ${step}${kind}${typeof d.attempt === 'number' && d.attempt > 1 ? ` (attempt ${d.attempt})` : ''}`;
    case 'step.completed':
      return `${time} ✓ ${step}${kind}${took}`;
    case 'step.failed':
      return `${time} ✗ ${step}${kind} failed${why}`;
    case 'step.paused':
      return `${time} ‖ ${step}${kind} paused`;
    case 'step.compensating':
      return `${time} ↶ ${step}${kind} compensating`;
    case 'step.compensated':
      return `${time} ↶ ${step}${kind} ${d.nothingToUndo === true ? 'nothing to undo' : `compensated${took}`}`;
    case 'compensation.failed':
      return `${time} ✗ ${step}${kind} compensation failed${why}`;
    case 'rollback.started':
      return `${time} rollback started (${text(d.reason, 'requested')})`;
    case 'rollback.resumed':
      return `${time} rollback resumed`;
    case 'rollback.refused':
      return `${time} rollback refused${why}`;
    case 'run.paused':
      return `${time} run paused (${text(d.reason, 'stopped')})`;
    case 'run.failed':
      return `${time} run failed${why}`;
    case 'run.completed':
      return `${time} run completed${took}`;
    case 'run.rolled_back':
      return `${time} run rolled back`;
    case 'stop.requested':
      return `${time} stop requested by ${event.actor}`;
    case 'approval.waiting':
      return `${time} ⏸ ${step} waits for approval${typeof d.message === 'string' ? ` (${d.message})` : ''}: ${String(d.command)}`;
    case 'step.approved':
      return `${time} ✓ ${step} approved by ${String(d.approvedBy)}`;
    case 'wait.started':
      return `${time} ⏸ ${step} waits until ${String(d.until)}`;
    case 'migration.applied':
      return `${time}   ${step} applied migration ${String(d.version)} ${text(d.name, '')}${took}`;
    case 'migration.reverted':
      return `${time}   ${step} reverted migration ${String(d.version)} ${text(d.name, '')}${took}`;
    case 'snapshot.taken':
    case 'snapshot.reused':
      return `${time}   ${step} snapshot ${text(d.snapshotId, '')}: ${tablesText(d.tables)}`;
    case 'backup.created':
      return `${time}   ${step} backup ${text(d.file, '')} (${typeof d.bytes === 'number' ? `${(d.bytes / 1048576).toFixed(1)} MiB` : '?'})`;
    case 'backfill.finished': {
      const p99 = (d.batchMs as { p99?: unknown } | undefined)?.p99;
      return `${time}   ${step} backfilled ${count(d.rows)} rows in ${count(d.batches)} batches${typeof p99 === 'number' ? `, p99 batch ${p99} ms` : ''}${took}`;
    }
    case 'verify.report': {
      const n = (v: unknown) => (Array.isArray(v) ? v.length : 0);
      return `${time}   ${step} verification ${d.passed === true ? 'passed' : 'FAILED'}: ${count(d.checks)} checks, ${n(d.critical)} critical, ${n(d.warnings)} warnings, ${n(d.info)} info`;
    }
    case 'webhook.failed':
      return `${time} ! webhook ${String(d.webhook)} failed${why}`;
    default:
      return `${time} ${step ? `${step} ` : ''}${event.type} ${compactJson(d)}`;
  }
}

function count(value: unknown): string {
  return typeof value === 'number' ? value.toLocaleString('en-US') : '?';
}

function tablesText(value: unknown): string {
  if (!Array.isArray(value)) return '';
  return value
    .map(
      (t: { table?: unknown; rows?: unknown }) => `${text(t.table, '?')} (${count(t.rows)} rows)`,
    )
    .join(', ');
}

function text(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

/** JSON on one line, without the braces when empty. */
export function compactJson(value: Record<string, unknown>): string {
  return Object.keys(value).length === 0 ? '' : JSON.stringify(value);
}

/** A run's status in words (`running`, `rolling back`, `paused (rollback)`, …). */
export function runState(run: RunRecord, lease?: LeaseRecord): string {
  const stale =
    run.status === 'running' && (lease === undefined || lease.expired || lease.runId !== run.id);
  if (run.status === 'running') {
    const what = run.mode === 'rollback' ? 'rolling back' : 'running';
    return stale ? `${what} (interrupted: no live runner; resume it)` : what;
  }
  if (run.mode === 'rollback' && (run.status === 'paused' || run.status === 'failed')) {
    return `${run.status} (during rollback)`;
  }
  return run.status.replace('_', ' ');
}

/** cli-table3 options: colours only on a terminal. */
function tableStyle(head: string[]): ConstructorParameters<typeof Table>[0] {
  return process.stdout.isTTY === true ? { head } : { head, style: { head: [], border: [] } };
}

/** Table of runs for `cutover runs`. */
export function runsTable(runs: RunRecord[]): string {
  const table = new Table(tableStyle(['run', 'plan', 'environment', 'status', 'started', 'by']));
  for (const run of runs) {
    table.push([
      shortId(run.id),
      run.planName,
      run.environment,
      runState(run),
      dateTime(run.createdAt),
      run.createdBy,
    ]);
  }
  return table.toString();
}

/** Table of a run's steps for `cutover status`. */
export function stepsTable(steps: StepRecord[], now: number): string {
  const table = new Table(tableStyle(['step', 'kind', 'status', 'attempt', 'duration', 'note']));
  for (const step of steps) {
    const end = step.finishedAt?.getTime() ?? (step.status === 'running' ? now : undefined);
    const duration =
      step.startedAt !== undefined && end !== undefined
        ? formatDuration(Math.max(0, end - step.startedAt.getTime()))
        : '';
    table.push([
      `${step.stepId}${step.phaseIrreversible ? ' (irreversible)' : ''}`,
      step.kind,
      step.status,
      step.attempt === 0 ? '' : String(step.attempt),
      duration,
      stepNote(step),
    ]);
  }
  return table.toString();
}

function stepNote(step: StepRecord): string {
  if (step.error !== undefined) return truncate(step.error.message, 80);
  if (step.status === 'running' && step.progress !== undefined) return progressText(step.progress);
  if (step.kind === 'wait' && step.status === 'running') {
    const deadline = (step.checkpoint as { deadline?: number } | undefined)?.deadline;
    if (typeof deadline === 'number') return `until ${dateTime(new Date(deadline))}`;
  }
  if (step.kind === 'approve' && step.status === 'running') return 'waiting for `cutover approve`';
  return '';
}

/** `12,345 / 200,000 rows (6%) · 5,120 rows/s` */
export function progressText(progress: StepProgress): string {
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const total = progress.total === undefined ? '' : ` / ${n(progress.total)}`;
  const pct =
    progress.total !== undefined && progress.total > 0
      ? ` (${Math.min(100, Math.floor((progress.done / progress.total) * 100))}%)`
      : '';
  const rate =
    progress.ratePerSecond === undefined
      ? ''
      : ` · ${n(progress.ratePerSecond)} ${progress.unit}/s`;
  return `${n(progress.done)}${total} ${progress.unit}${pct}${rate}`;
}

function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** JSON view of a run for `--json` output. */
export function runJson(
  run: RunRecord,
  steps?: StepRecord[],
  lease?: LeaseRecord,
): Record<string, unknown> {
  return {
    id: run.id,
    plan: run.planName,
    planFile: run.planFile ?? null,
    environment: run.environment,
    status: run.status,
    mode: run.mode,
    state: runState(run, lease),
    onFailure: run.onFailure,
    untilPhase: run.untilPhase ?? null,
    createdBy: run.createdBy,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    stopRequestedAt: run.stopRequestedAt?.toISOString() ?? null,
    error: run.error ?? null,
    ...(lease === undefined
      ? {}
      : {
          lease: {
            host: lease.host,
            pid: lease.pid,
            runId: lease.runId ?? null,
            expiresAt: lease.expiresAt.toISOString(),
            expired: lease.expired,
          },
        }),
    ...(steps === undefined ? {} : { steps: steps.map(stepJson) }),
  };
}

/** JSON view of a step. */
export function stepJson(step: StepRecord): Record<string, unknown> {
  return {
    id: step.stepId,
    phase: step.phase,
    irreversible: step.phaseIrreversible,
    kind: step.kind,
    status: step.status,
    attempt: step.attempt,
    startedAt: step.startedAt?.toISOString() ?? null,
    finishedAt: step.finishedAt?.toISOString() ?? null,
    output: step.output ?? null,
    progress: step.progress ?? null,
    error: step.error ?? null,
    compensatedAt: step.compensatedAt?.toISOString() ?? null,
  };
}

/** JSON view of an event. */
export function eventJson(event: EventRecord): Record<string, unknown> {
  return {
    id: event.id,
    at: event.at.toISOString(),
    actor: event.actor,
    type: event.type,
    step: event.stepId ?? null,
    details: event.details,
  };
}
