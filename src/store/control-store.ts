import type pg from 'pg';
import { CutoverError } from '../errors/index.js';
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

/** Something that runs queries: a pool, or a client (inside a transaction). */
export type Queryable = pg.Pool | pg.PoolClient | pg.ClientBase;

/**
 * Fencing for writes made by a lease holder: the write happens only while
 * `owner` still holds the lease on `resource` (another executor that took an
 * expired lease over makes the old holder's writes fail with `LEASE_LOST`).
 */
export interface Fence {
  resource: string;
  ownerId: string;
}

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

/** Input of {@link ControlStore.acquireLease}. */
export interface LeaseRequest {
  resource: string;
  runId?: string | undefined;
  ownerId: string;
  host: string;
  pid: number;
  /** Time to live, ms (the lease expires this long after each renewal, server time). */
  ttlMs: number;
  /**
   * Take over a lease that has not expired yet when this returns true for the
   * holder (e.g. its host is this host and its pid is not alive).
   */
  takeOver?: (holder: LeaseRecord) => boolean;
}

/** Result of {@link ControlStore.acquireLease}. */
export type LeaseResult =
  | { acquired: true; lease: LeaseRecord; previous: LeaseRecord | undefined }
  | { acquired: false; holder: LeaseRecord };

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
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const result = await fn(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
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
   * by the same owner, or `takeOver(holder)` says so; atomically (one
   * statement under a row lock), so of two callers exactly one gets it.
   */
  async acquireLease(request: LeaseRequest, db: Queryable = this.pool): Promise<LeaseResult> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const previous = await this.getLease(request.resource, db);
      const force =
        previous !== undefined &&
        (previous.ownerId === request.ownerId || (request.takeOver?.(previous) ?? false));
      const free = previous === undefined || previous.expired || force;
      if (!free) return { acquired: false, holder: previous };
      // Conditional upsert: succeeds only if the row is still what we looked at.
      const { rows } = await db.query<LeaseRow>(
        `insert into cutover.leases as l (resource, run_id, owner_id, host, pid, acquired_at, renewed_at, expires_at)
         values ($1, $2, $3, $4, $5, clock_timestamp(), clock_timestamp(), clock_timestamp() + $6 * interval '1 millisecond')
         on conflict (resource) do update
           set run_id = excluded.run_id, owner_id = excluded.owner_id, host = excluded.host,
               pid = excluded.pid, acquired_at = excluded.acquired_at,
               renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
           where l.owner_id = $7 and (l.expires_at < clock_timestamp() or $8::boolean)
         returning *, false as expired, 0::float8 as expires_in_ms`,
        [
          request.resource,
          request.runId ?? null,
          request.ownerId,
          request.host,
          request.pid,
          request.ttlMs,
          previous?.ownerId ?? null,
          force,
        ],
      );
      if (rows[0] !== undefined) {
        return {
          acquired: true,
          lease: { ...toLease(rows[0]), expiresInMs: request.ttlMs },
          previous: previous?.ownerId === request.ownerId ? undefined : previous,
        };
      }
      // Someone else changed the row between our read and write: look again.
    }
    const holder = await this.getLease(request.resource, db);
    if (holder === undefined) throw new Error('lease row vanished while acquiring it');
    return { acquired: false, holder };
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
    const { rowCount } = await db.query(
      `update cutover.leases
          set renewed_at = clock_timestamp(),
              expires_at = clock_timestamp() + $3 * interval '1 millisecond',
              run_id = coalesce($4, run_id)
        where resource = $1 and owner_id = $2`,
      [resource, ownerId, ttlMs, options.runId ?? null],
    );
    return rowCount === 1;
  }

  /** Releases the lease if `ownerId` holds it. */
  async releaseLease(resource: string, ownerId: string, db: Queryable = this.pool): Promise<void> {
    await db.query('delete from cutover.leases where resource = $1 and owner_id = $2', [
      resource,
      ownerId,
    ]);
  }

  /** The lease on `resource`, with its state in server time, or undefined. */
  async getLease(resource: string, db: Queryable = this.pool): Promise<LeaseRecord | undefined> {
    const { rows } = await db.query<LeaseRow>(
      `select *, expires_at < clock_timestamp() as expired,
              extract(epoch from (expires_at - clock_timestamp())) * 1000 as expires_in_ms
         from cutover.leases where resource = $1`,
      [resource],
    );
    return rows[0] === undefined ? undefined : toLease(rows[0]);
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
    const row = rows[0];
    return row === undefined
      ? undefined
      : {
          runId: row.run_id,
          stepId: row.step_id,
          approvedBy: row.approved_by,
          approvedAt: row.approved_at,
          comment: row.comment ?? undefined,
        };
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

/** CutoverError `LEASE_LOST` (busy): another executor took the lease over. */
export function leaseLost(fence: Fence): CutoverError {
  return new CutoverError(
    'LEASE_LOST',
    'busy',
    `This process lost the lease on ${fence.resource}: another executor took it over after it expired.`,
    {
      location: fence.resource,
      hint: 'Another runner continues the run; check it with `cutover status`.',
    },
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface RunRow {
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

interface StepRow {
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

interface EventRow {
  id: string;
  run_id: string | null;
  step_id: string | null;
  type: string;
  actor: string;
  at: Date;
  details: Record<string, unknown>;
}

interface LeaseRow {
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

interface ApprovalRow {
  run_id: string;
  step_id: string;
  approved_by: string;
  approved_at: Date;
  comment: string | null;
}

function toRun(row: RunRow): RunRecord {
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

function toStep(row: StepRow): StepRecord {
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

function toEvent(row: EventRow): EventRecord {
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

function toLease(row: LeaseRow): LeaseRecord {
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
