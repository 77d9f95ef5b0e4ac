import type pg from 'pg';
import type { z } from 'zod';
import type { PlanMigrations } from '../plan/plan-types.js';

/** Time source; inject a fake one in tests. */
export interface Clock {
  /** Current time in ms since the epoch. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds, or rejects with the signal's reason as
   * soon as `signal` aborts.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Progress of a long step (backfill, snapshot, verification). */
export interface StepProgress {
  /** Units done so far (e.g. rows). */
  done: number;
  /** Estimated total units, when known (e.g. from `pg_class.reltuples`). */
  total?: number;
  /** Unit name, e.g. `rows`. */
  unit: string;
  /** Current rate in units per second, when known. */
  ratePerSecond?: number;
}

/** A step's durable checkpoint (stored with the step in `cutover.steps`). */
export interface StepCheckpoint {
  /** The last saved checkpoint value, or undefined when none. */
  load<T>(): Promise<T | undefined>;
  /**
   * Saves `value` (JSON). With `client`, the write happens on that client, so
   * it commits or rolls back with the caller's transaction (a backfill saves
   * its keyset cursor in the same transaction as each batch).
   */
  save<T>(value: T, client?: pg.PoolClient): Promise<void>;
}

/** The output a completed step recorded, as seen by later steps and by compensation. */
export interface CompletedStep {
  /** Step id: `<phase>.<index>` (0-based index within the phase). */
  id: string;
  /** Step kind name. */
  kind: string;
  /** The validated spec. */
  spec: unknown;
  /** What `apply` returned (JSON). */
  output: unknown;
}

/** What a step kind gets when it applies, compensates or describes a step. */
export interface StepContext {
  /** Run id (uuid). */
  readonly runId: string;
  /** Step id: `<phase>.<index>`. */
  readonly stepId: string;
  /** Pool on the target database. */
  readonly pool: pg.Pool;
  /** Database URL of the target (for tools such as pg_dump). */
  readonly databaseUrl: string;
  /** Directory of the plan file; relative paths in specs resolve against it. */
  readonly planDir: string;
  /** The `.cutover` state directory (backups go to `<stateDir>/backups`). */
  readonly stateDir: string;
  /** Environment name of the plan (`production`, …). */
  readonly environment: string;
  /** Aborts when a stop is requested: stop at the next safe point by throwing the signal's reason. */
  readonly signal: AbortSignal;
  readonly clock: Clock;
  /** Appends an event to the run's audit log (`type` like `backfill.batch`, details as JSON). */
  log(type: string, details?: Record<string, unknown>): Promise<void>;
  /** Reports progress (shown by `cutover status` and the live progress bar). */
  progress(progress: StepProgress): void;
  /** This step's durable checkpoint. */
  readonly checkpoint: StepCheckpoint;
  /**
   * Steps of this run completed before this one, in order (for compensation
   * lookups). In `describe`, the plan's earlier steps (not run yet, `output`
   * undefined).
   */
  readonly completedSteps: readonly CompletedStep[];
  /** Actor recorded in the audit log (OS user, or token name). */
  readonly actor: string;
  /**
   * The plan's `migrations` settings (directory resolved to an absolute path),
   * when the plan has them. Used by the `migrate` step kind.
   */
  readonly migrations?: PlanMigrations;
  /**
   * True when the run was started with `--yes`: `approve` steps approve
   * themselves (recorded as such in the audit log). Default false.
   */
  readonly autoApprove?: boolean;
}

/** How `cutover plan` describes a step before running it. */
export interface StepDescription {
  /** One line: what the step will do. */
  summary: string;
  /** More lines: pending migrations with lock/rewrite info, rows a backfill will touch, … */
  details?: string[];
  /** One line: what compensation does (or why there is none). */
  compensation: string;
}

/**
 * A kind of plan step (`snapshot`, `backup`, `migrate`, `sql`, `backfill`,
 * `verify`, `wait`, `approve`, `notify`, `flag`). Registered in the step-kind
 * registry; the runner looks kinds up by `name` (the YAML key of the step).
 *
 * Invariants the runner relies on:
 * - `apply` is idempotent under resume: called again after a crash for a
 *   step that was started but not recorded done, it must not repeat effects
 *   (use the checkpoint, the migration history, completion markers).
 * - `apply` checks `ctx.signal` at safe points and throws its reason to stop.
 * - `compensate` undoes `apply` using `output`; it must also be idempotent.
 */
export interface StepKind<Spec = unknown, Output = unknown> {
  /** The YAML key, e.g. `snapshot`. */
  readonly name: string;
  /** Validates the step body (rejects unknown keys). */
  readonly schema: z.ZodType<Spec>;
  /** Describes the step for `cutover plan` (may read the database, never writes). */
  describe(spec: Spec, ctx: StepContext): Promise<StepDescription>;
  /** Applies the step; returns JSON output recorded with the step. */
  apply(spec: Spec, ctx: StepContext): Promise<Output>;
  /**
   * Compensates a step. Undefined when there is nothing to undo (verify,
   * wait, approve, notify). Throws CutoverError `COMPENSATION_IMPOSSIBLE`
   * (category `refused`) with the reason when it cannot.
   *
   * `output` is what `apply` returned, or **undefined when the step did not
   * complete** (it failed or was interrupted part-way, e.g. a failing
   * migration after two applied ones, a backfill stopped half-way): then
   * compensation must undo whatever part was applied, using the checkpoint
   * (`ctx.checkpoint`), and be a no-op when nothing was.
   */
  compensate?(spec: Spec, output: Output | undefined, ctx: StepContext): Promise<void>;
  /**
   * Optional pre-flight of a rollback: called for every step to compensate
   * before any compensation runs, so a rollback that cannot finish refuses
   * before changing anything. Throws CutoverError `COMPENSATION_IMPOSSIBLE`
   * (category `refused`) saying why (e.g. a `sql` step without `down`).
   * Must not write.
   */
  checkCompensation?(spec: Spec, output: Output | undefined, ctx: StepContext): Promise<void>;
}
