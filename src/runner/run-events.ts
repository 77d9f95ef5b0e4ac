import type { RunEventName } from '../plan/plan-types.js';
import type { RunRecord, StoredError } from '../store/run-records.js';

/** The JSON body cutover POSTs to plan-level webhooks for run events. */
export interface RunEventPayload {
  /** Slack-compatible one-line summary. */
  text: string;
  /** `run.started`, `step.failed`, `run.paused`, `run.failed`, `run.rolled_back`, `run.finished`, `approval.needed`. */
  event: string;
  run: { id: string; plan: string; environment: string; status: string; mode: string };
  step?: { id: string; kind: string };
  error?: StoredError;
  actor: string;
  /** ISO 8601. */
  at: string;
}

const EVENT_TYPES: Record<RunEventName, string> = {
  started: 'run.started',
  step_failed: 'step.failed',
  paused: 'run.paused',
  failed: 'run.failed',
  rolled_back: 'run.rolled_back',
  finished: 'run.finished',
  approval_needed: 'approval.needed',
};

/** Builds the payload of a run event (see {@link RunEventPayload}). */
export function runEventPayload(
  name: RunEventName,
  run: Pick<RunRecord, 'id' | 'planName' | 'environment' | 'status' | 'mode'>,
  options: {
    actor: string;
    at: Date;
    step?: { id: string; kind: string };
    error?: StoredError;
    note?: string;
  },
): RunEventPayload {
  const short = run.id.slice(0, 8);
  const head = `[cutover] ${run.planName} (${run.environment}) run ${short}`;
  const stepText = options.step ? ` step ${options.step.id} (${options.step.kind})` : '';
  const why = options.error ? `: ${options.error.message}` : '';
  const texts: Record<RunEventName, string> = {
    started: `${head} started by ${options.actor}`,
    step_failed: `${head}${stepText} failed${why}`,
    paused: `${head} paused${stepText ? ` at${stepText}` : ''}${options.note ? ` (${options.note})` : ''}; resume with \`cutover resume ${short}\``,
    failed: `${head} failed${stepText ? ` at${stepText}` : ''}${why}; \`cutover resume ${short}\` retries, \`cutover rollback ${short}\` undoes`,
    rolled_back: `${head} rolled back${options.note ? ` (${options.note})` : ''}`,
    finished: `${head} finished`,
    approval_needed: `${head}${stepText} needs approval: \`cutover approve ${short}\``,
  };
  return {
    text: texts[name],
    event: EVENT_TYPES[name],
    run: {
      id: run.id,
      plan: run.planName,
      environment: run.environment,
      status: run.status,
      mode: run.mode,
    },
    ...(options.step ? { step: options.step } : {}),
    ...(options.error ? { error: options.error } : {}),
    actor: options.actor,
    at: options.at.toISOString(),
  };
}
