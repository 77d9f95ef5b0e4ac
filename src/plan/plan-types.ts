import type { MigrationLayout } from '../migrate/migration.js';

/** What to do when a step fails: compensate the completed steps, or pause for a human. */
export type OnFailure = 'rollback' | 'pause';

/**
 * The plan's `migrations` settings, normalized: the YAML accepts a directory
 * string or an object; durations are written like `2s` or as ms numbers.
 */
export interface PlanMigrations {
  /** Absolute migrations directory (relative paths resolve against the plan's directory). */
  dir: string;
  /** Layout override; auto-detected when undefined. */
  layout?: MigrationLayout;
  /** `lock_timeout` per statement, ms. */
  lockTimeoutMs?: number;
  /** `statement_timeout` per statement, ms. */
  statementTimeoutMs?: number;
  /** Retries after a lock timeout (SQLSTATE 55P03). */
  lockRetries?: number;
  /** How long to wait for the migration advisory lock, ms. */
  lockWaitMs?: number;
  /** Allow pending migrations older than the newest applied one. */
  allowOutOfOrder?: boolean;
}

/** Run events a plan-level webhook can receive. */
export type RunEventName =
  'started' | 'step_failed' | 'paused' | 'failed' | 'rolled_back' | 'finished' | 'approval_needed';

/** A plan-level webhook: receives run events as JSON POSTs with a Slack-compatible `text`. */
export interface PlanWebhook {
  /** http(s) URL. */
  url: string;
  /** Events it receives. Default: all of {@link RunEventName}. */
  events: RunEventName[];
}

/**
 * A background guard, as written in the plan. Validated and stored with the
 * run; **not enforced yet** (guards come with the metrics work).
 */
export interface PlanGuard {
  name: string;
  /** Metric name, e.g. `http.error_rate`. */
  metric: string;
  /** Compare treatment (flag on) with control (flag off). */
  cohort?: { flag: string };
  /** Comparison with a number or percentage, e.g. `> 5%`, `>= 250`. */
  threshold: string;
  /** Window the threshold must hold for, ms. */
  forMs: number;
  severity: 'critical' | 'warning' | 'info';
}

/** One step of a plan, in plan order. */
export interface PlanStep {
  /** `<phase>.<index>` (0-based index within the phase). */
  id: string;
  /** Phase name. */
  phase: string;
  /** 0-based index within the phase. */
  index: number;
  /** 0-based position in the whole plan. */
  position: number;
  /** Step kind name (the YAML key). */
  kind: string;
  /**
   * The step body after `${ENV}` interpolation, as written (not yet parsed
   * by the kind's schema; the runner parses it when it executes the step).
   */
  spec: unknown;
  /** `file:line:column` of the step in the plan file, when known. */
  location?: string;
}

/** A phase of a plan. */
export interface PlanPhase {
  name: string;
  /** A point of no return: once one of its steps has started, rollback refuses. */
  irreversible: boolean;
  steps: PlanStep[];
}

/** A validated plan (see `loadPlan` / `parsePlan`). */
export interface Plan {
  name: string;
  /** Database URL after interpolation, when the plan names one. */
  database?: string;
  /**
   * Set when `database` uses `${VAR}`s that are not set: not an error while
   * the URL comes from elsewhere (`--database-url`, `DATABASE_URL`); callers
   * that need the plan's database report it (see `planDatabase`).
   */
  databaseUnresolved?: { variables: string[]; location: string };
  migrations?: PlanMigrations;
  /** Environment name. Default `development`. */
  environment: string;
  /** Default `rollback`. */
  onFailure: OnFailure;
  webhooks: PlanWebhook[];
  /** Validated and stored, not enforced yet. */
  guards: PlanGuard[];
  phases: PlanPhase[];
  /** All steps in order (the phases' steps concatenated). */
  steps: PlanStep[];
  /** Absolute path of the plan file, when loaded from a file. */
  file?: string;
  /** Directory relative paths in the plan resolve against (absolute). */
  dir: string;
  /** sha256 hex of the validated plan (without `database`), to tell plan versions apart. */
  hash: string;
}
