import type pg from 'pg';
import { CutoverError } from '../errors/index.js';
import type { StepProgress } from '../steps/step-kind.js';
import {
  acquireLease,
  getLease,
  leaseLost,
  releaseLease,
  renewLease,
  type Fence,
  type LeaseRequest,
  type LeaseResult,
} from './acquire-lease.js';
import {
  toApproval,
  toEvent,
  toRun,
  toStep,
  type ApprovalRow,
  type EventRow,
  type RunRow,
  type StepRow,
} from './control-rows.js';
import type { Queryable } from './queryable.js';
import { withTransaction } from './with-transaction.js';
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

export { leaseLost, type Fence, type LeaseRequest, type LeaseResult } from './acquire-lease.js';
export type { Queryable } from './queryable.js';

/** Fields of a run that {@link ControlStore.updateRun} can change. */
export interface RunPatch {
  status?: RunStatus;
  mode?: RunMode;
  untilPhase?: string | null;
  autoApprove?: boolean;
  finishedAt?: Date | null;
  stopRequestedAt?: Date | null;
  stopRequestedBy?: string | null;
  error?: StoredError | null;
  updatedAt: Date;
}

/** Fields of a step that {@link ControlStore.updateStep} can change. */
export interface StepPatch {
  status?: StepStatus;
  attempt?: number;
  startedAt?: Date | null;
  finishedAt?: Date | null;
  output?: unknown;
  checkpoint?: unknown;
  progress?: StepProgress | null;
  error?: StoredError | null;
  compensationStartedAt?: Date | null;
  compensatedAt?: Date | null;
}

/** Input of {@link ControlStore.appendEvent}. */
export interface NewEvent {
  runId?: string | undefined;
  stepId?: string | undefined;
  type: string;
  actor: string;
  /** Default: the server's clock_timestamp(). */
  at?: Date;
  details?: Record<string, unknown>;
}

/** Input of {@link ControlStore.createRun}. */
export interface NewRun {
  id: string;
  plan: StoredPlan;
  createdBy: string;
  at: Date;
  untilPhase?: string | undefined;
  autoApprove: boolean;
}

const RUN_COLUMNS: Record<keyof Omit<RunPatch, never>, string> = {
  status: 'status',
  mode: 'mode',
  untilPhase: 'until_phase',
  autoApprove: 'auto_approve',
  finishedAt: 'finished_at',
  stopRequestedAt: 'stop_requested_at',
  stopRequestedBy: 'stop_requested_by',
  error: 'error',
  updatedAt: 'updated_at',
};

const STEP_COLUMNS: Record<keyof StepPatch, string> = {
  status: 'status',
  attempt: 'attempt',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  output: 'output',
  checkpoint: 'checkpoint',
  progress: 'progress',
  error: 'error',
  compensationStartedAt: 'compensation_started_at',
  compensatedAt: 'compensated_at',
};

const JSON_COLUMNS = new Set(['output', 'checkpoint', 'progress', 'error']);

/**
 * Access to cutover's run state in schema `cutover` (tables of control
 * migration 0002: runs, steps, events, leases, approvals). Call
 * `ensureControlSchema(pool)` first. Every method takes an optional
 * `db` (a client inside the caller's transaction); default the pool.
 *
 * Holds no state besides the pool; safe to create many.
 */
export class ControlStore {
  constructor(readonly pool: pg.Pool) {}

  /** Runs `fn` in one transaction on a client of the pool (rolled back when it throws). */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, fn);
  }

  // ---------------------------------------------------------------- runs

  /** Inserts a run (status `running`, mode `apply`) and its steps (`pending`). */
  async createRun(input: NewRun, db: Queryable = this.pool): Promise<void> {
    const plan = input.plan;
    await db.query(
      `insert into cutover.runs (id, plan_name, plan_file, plan_dir, plan_hash, plan, environment,
         on_failure, status, mode, until_phase, auto_approve, created_by, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, 'running', 'apply', $9, $10, $11, $12, $12)`,
      [
        input.id,
        plan.name,
        plan.file ?? null,
        plan.dir,
        plan.hash,
        JSON.stringify(plan),
        plan.environment,
        plan.onFailure,
        input.untilPhase ?? null,
        input.autoApprove,
        input.createdBy,
        input.at,
      ],
    );
    let position = 0;
    for (const phase of plan.phases) {
      for (const step of phase.steps) {
        await db.query(
          `insert into cutover.steps (run_id, step_id, position, phase, phase_irreversible, kind, spec, location)
           values ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            input.id,
            step.id,
            position++,
            phase.name,
            phase.irreversible,
            step.kind,
            JSON.stringify(step.spec ?? null),
            step.location ?? null,
          ],
        );
      }
    }
  }

  /** The run with id `id`, or undefined. */
  async getRun(id: string, db: Queryable = this.pool): Promise<RunRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const { rows } = await db.query<RunRow>('select * from cutover.runs where id = $1', [id]);
    return rows[0] === undefined ? undefined : toRun(rows[0]);
  }

  /**
   * Finds a run by id or unique id prefix (≥ 4 hex characters, like git).
   * Without `ref`: the most recent run that is not finished (`running`,
   * `paused`, `failed`), else the most recent run.
   *
   * @throws CutoverError `RUN_NOT_FOUND` (not_found), `RUN_AMBIGUOUS` (usage).
   */
  async findRun(ref: string | undefined, db: Queryable = this.pool): Promise<RunRecord> {
    if (ref === undefined || ref === '') {
      const { rows } = await db.query<RunRow>(
        `select * from cutover.runs
          order by (status in ('running', 'paused', 'failed')) desc, created_at desc, id limit 1`,
      );
      if (rows[0] === undefined) {
        throw new CutoverError('RUN_NOT_FOUND', 'not_found', 'There are no runs yet.', {
          hint: 'Start one with `cutover run [plan file]`.',
        });
      }
      return toRun(rows[0]);
    }
    const prefix = ref.toLowerCase();
    if (!/^[0-9a-f-]{4,36}$/.test(prefix)) {
      throw new CutoverError('RUN_NOT_FOUND', 'not_found', `"${ref}" is not a run id.`, {
        location: ref,
        hint: 'Give a run id or a unique prefix of at least 4 characters (see `cutover runs`).',
      });
    }
    const { rows } = await db.query<RunRow>(
      `select * from cutover.runs where id::text like $1 || '%' order by created_at desc limit 2`,
      [prefix],
    );
    if (rows.length === 0) {
      throw new CutoverError('RUN_NOT_FOUND', 'not_found', `No run has the id ${ref}.`, {
        location: ref,
        hint: 'List runs with `cutover runs`.',
      });
    }
    if (rows.length > 1) {
      throw new CutoverError(
        'RUN_AMBIGUOUS',
        'usage',
        `Several runs have ids starting with ${ref}.`,
        {
          location: ref,
          hint: 'Give more characters of the run id.',
        },
      );
    }
    return toRun(rows[0]!);
  }

  /** Runs, newest first. */
  async listRuns(
    options: { planName?: string; limit?: number; unfinishedOnly?: boolean } = {},
    db: Queryable = this.pool,
  ): Promise<RunRecord[]> {
    const { rows } = await db.query<RunRow>(
      `select * from cutover.runs
        where ($1::text is null or plan_name = $1)
          and (not $2 or status in ('running', 'paused', 'failed'))
        order by created_at desc, id
        limit $3`,
      [options.planName ?? null, options.unfinishedOnly === true, options.limit ?? 50],
    );
    return rows.map(toRun);
  }

  /** Updates a run; with `fence`, only while the fence's owner holds the lease. */
  async updateRun(
    id: string,
    patch: RunPatch,
    options: { db?: Queryable; fence?: Fence } = {},
  ): Promise<void> {
    await this.update('runs', 'id = $1', [id], RUN_COLUMNS, patch, options);
  }

  // ---------------------------------------------------------------- steps

  /** Steps of a run, in plan order. */
  async getSteps(runId: string, db: Queryable = this.pool): Promise<StepRecord[]> {
    const { rows } = await db.query<StepRow>(
      'select * from cutover.steps where run_id = $1 order by position',
      [runId],
    );
    return rows.map(toStep);
  }

  /** One step of a run, or undefined. */
  async getStep(
    runId: string,
    stepId: string,
    db: Queryable = this.pool,
  ): Promise<StepRecord | undefined> {
    const { rows } = await db.query<StepRow>(
      'select * from cutover.steps where run_id = $1 and step_id = $2',
      [runId, stepId],
    );
    return rows[0] === undefined ? undefined : toStep(rows[0]);
  }

  /** Updates a step; with `fence`, only while the fence's owner holds the lease. */
  async updateStep(
    runId: string,
    stepId: string,
    patch: StepPatch,
    options: { db?: Queryable; fence?: Fence } = {},
  ): Promise<void> {
    await this.update(
      'steps',
      'run_id = $1 and step_id = $2',
      [runId, stepId],
      STEP_COLUMNS,
      patch,
      options,
    );
  }

  // ---------------------------------------------------------------- events

  /** Appends an event to the audit log; returns its id. */
  async appendEvent(event: NewEvent, db: Queryable = this.pool): Promise<number> {
    const { rows } = await db.query<{ id: string }>(
      `insert into cutover.events (run_id, step_id, type, actor, at, details)
       values ($1, $2, $3, $4, coalesce($5, clock_timestamp()), $6) returning id`,
      [
        event.runId ?? null,
        event.stepId ?? null,
        event.type,
        event.actor,
        event.at ?? null,
        JSON.stringify(event.details ?? {}),
      ],
    );
    return Number(rows[0]!.id);
  }

  /** Events of a run in log order (after event id `afterId`, when given). */
  async listEvents(
    runId: string,
    options: { afterId?: number } = {},
    db: Queryable = this.pool,
  ): Promise<EventRecord[]> {
    const { rows } = await db.query<EventRow>(
      'select * from cutover.events where run_id = $1 and id > $2 order by id',
      [runId, options.afterId ?? 0],
    );
    return rows.map(toEvent);
  }

  // ---------------------------------------------------------------- leases

  /**
   * Takes the lease on `resource` when it is free, expired (server time), held
   * by the same owner, or `takeOver(holder)` says so; atomically: see {@link acquireLease}.
   */
  async acquireLease(request: LeaseRequest, db: Queryable = this.pool): Promise<LeaseResult> {
    return acquireLease(db, request);
  }

  /**
   * Extends the lease by `ttlMs` from now (server time) if `ownerId` still
   * holds it; returns false when it was lost (taken over after expiry).
   */
  async renewLease(
    resource: string,
    ownerId: string,
    ttlMs: number,
    options: { runId?: string } = {},
    db: Queryable = this.pool,
  ): Promise<boolean> {
    return renewLease(db, resource, ownerId, ttlMs, options);
  }

  /** Releases the lease if `ownerId` holds it. */
  async releaseLease(resource: string, ownerId: string, db: Queryable = this.pool): Promise<void> {
    await releaseLease(db, resource, ownerId);
  }

  /** The lease on `resource`, with its state in server time, or undefined. */
  async getLease(resource: string, db: Queryable = this.pool): Promise<LeaseRecord | undefined> {
    return getLease(db, resource);
  }

  // ---------------------------------------------------------------- approvals

  /** Records an approval (idempotent: the first approval is kept); returns it. */
  async approve(
    runId: string,
    stepId: string,
    approvedBy: string,
    comment: string | undefined,
    db: Queryable = this.pool,
  ): Promise<ApprovalRecord> {
    await db.query(
      `insert into cutover.approvals (run_id, step_id, approved_by, comment) values ($1, $2, $3, $4)
       on conflict (run_id, step_id) do nothing`,
      [runId, stepId, approvedBy, comment ?? null],
    );
    const approval = await this.getApproval(runId, stepId, db);
    return approval!;
  }

  /** The approval of a step, or undefined. */
  async getApproval(
    runId: string,
    stepId: string,
    db: Queryable = this.pool,
  ): Promise<ApprovalRecord | undefined> {
    const { rows } = await db.query<ApprovalRow>(
      'select * from cutover.approvals where run_id = $1 and step_id = $2',
      [runId, stepId],
    );
    return rows[0] === undefined ? undefined : toApproval(rows[0]);
  }

  // ---------------------------------------------------------------- internals

  private async update(
    table: 'runs' | 'steps',
    where: string,
    keys: unknown[],
    columns: Record<string, string>,
    patch: object,
    options: { db?: Queryable; fence?: Fence },
  ): Promise<void> {
    const sets: string[] = [];
    const values: unknown[] = [...keys];
    for (const [field, value] of Object.entries(patch)) {
      const column = columns[field];
      if (column === undefined || value === undefined) continue;
      values.push(
        JSON_COLUMNS.has(column) && value !== null ? JSON.stringify(value) : (value as unknown),
      );
      sets.push(`${column} = $${values.length}`);
    }
    if (sets.length === 0) return;
    let fence = '';
    if (options.fence) {
      values.push(options.fence.resource, options.fence.ownerId);
      fence = ` and exists (select 1 from cutover.leases
                             where resource = $${values.length - 1} and owner_id = $${values.length})`;
    }
    const db = options.db ?? this.pool;
    const { rowCount } = await db.query(
      `update cutover.${table} set ${sets.join(', ')} where ${where}${fence}`,
      values,
    );
    if (rowCount === 0 && options.fence) throw leaseLost(options.fence);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
