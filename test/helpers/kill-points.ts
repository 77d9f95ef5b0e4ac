import type pg from 'pg';
import { holdStepStart, killHard, spawnCli } from './cli-process.js';
import { waitUntil } from './wait-until.js';

/**
 * A named point of a run at which a test SIGKILLs the runner process. The
 * point is observed from outside, in the database (audit log, step rows,
 * pg_stat_activity) — production code has no test hooks.
 *
 * - `event`: right after the `nth` (default 1st) event of `type` (optionally
 *   of `stepId`) was committed, e.g. `{ kind: 'event', type: 'backfill.batch', nth: 3 }`.
 * - `before-step`: exactly between steps — the runner is held (by a row lock
 *   on the step) right before it records `stepId` as started, then killed.
 *   The lock is taken as soon as the run exists, so the steps before
 *   `stepId` must take a moment (≥ ~100 ms); otherwise `killAt` throws.
 * - `query`: while a statement whose text matches `pattern` (SQL `LIKE`,
 *   e.g. `%pg_sleep%` or `%insert into dashboard_widgets%`) runs on the
 *   target database, i.e. inside a migration, a batch or a snapshot.
 */
export type KillPoint =
  | { kind: 'event'; type: string; stepId?: string; nth?: number }
  | { kind: 'before-step'; stepId: string }
  | { kind: 'query'; pattern: string };

/** Human name of a kill point (for test titles). */
export function killPointName(point: KillPoint): string {
  switch (point.kind) {
    case 'event':
      return `after ${point.nth && point.nth > 1 ? `the ${point.nth}th ` : ''}${point.type}${point.stepId ? ` of ${point.stepId}` : ''}`;
    case 'before-step':
      return `between steps, before ${point.stepId}`;
    case 'query':
      return `during a query like ${point.pattern}`;
  }
}

/**
 * Runs `cutover <args>` as a child process and SIGKILLs it at `point`.
 * Returns the id of the run it was executing (the newest run of `planName`
 * when it started one, or `runId` when given).
 *
 * @param pool A pool on the run's database (the test's own).
 * @param database The database name (to find its sessions in pg_stat_activity).
 */
export async function killAt(
  point: KillPoint,
  options: {
    args: string[];
    cwd: string;
    pool: pg.Pool;
    database: string;
    planName: string;
    runId?: string;
    timeoutMs?: number;
  },
): Promise<{ runId: string; pid: number }> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const proc = spawnCli(options.args, { cwd: options.cwd });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const failIfExited = (what: string): void => {
    if (exited) {
      throw new Error(
        `the runner ended before ${what}: ${proc.stdout()}\n${proc.stderr()}`.slice(0, 4000),
      );
    }
  };
  const runId =
    options.runId ??
    (await waitUntil(
      async () => {
        failIfExited('it started a run');
        const { rows } = await options.pool
          .query<{ id: string }>(
            `select id from cutover.runs where plan_name = $1 and created_at >= now() - interval '1 hour'
              order by created_at desc limit 1`,
            [options.planName],
          )
          .catch(() => ({ rows: [] as { id: string }[] }));
        return rows[0]?.id;
      },
      { timeoutMs, what: `a run of ${options.planName}`, everyMs: 10 },
    ));
  let release: (() => Promise<void>) | undefined;
  try {
    switch (point.kind) {
      case 'event':
        await waitUntil(
          async () => {
            failIfExited(killPointName(point));
            const { rows } = await options.pool.query<{ n: number }>(
              `select count(*)::int as n from cutover.events
                where run_id = $1 and type = $2 and ($3::text is null or step_id = $3)`,
              [runId, point.type, point.stepId ?? null],
            );
            return (rows[0]?.n ?? 0) >= (point.nth ?? 1);
          },
          { timeoutMs, what: killPointName(point), everyMs: 5 },
        );
        break;
      case 'before-step':
        release = await holdStepStart(options.pool, runId, point.stepId);
        {
          const { rows } = await options.pool.query<{ status: string }>(
            'select status from cutover.steps where run_id = $1 and step_id = $2',
            [runId, point.stepId],
          );
          if (rows[0]?.status !== 'pending') {
            throw new Error(
              `missed the point ${killPointName(point)}: the step is already ${rows[0]?.status ?? 'missing'} (make the step before it take longer)`,
            );
          }
        }
        await waitUntil(
          async () => {
            failIfExited(killPointName(point));
            const { rows } = await options.pool.query(
              `select 1 from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'
                 and query like 'update cutover.steps%'`,
              [options.database],
            );
            return rows.length > 0;
          },
          { timeoutMs, what: killPointName(point), everyMs: 10 },
        );
        break;
      case 'query':
        await waitUntil(
          async () => {
            failIfExited(killPointName(point));
            const { rows } = await options.pool.query(
              `select 1 from pg_stat_activity
                where datname = $1 and state = 'active' and pid <> pg_backend_pid()
                  and query like $2 and query not like '%pg_stat_activity%'`,
              [options.database, point.pattern],
            );
            return rows.length > 0;
          },
          { timeoutMs, what: killPointName(point), everyMs: 5 },
        );
        break;
    }
    await killHard(proc);
  } finally {
    if (!exited) await killHard(proc);
    await release?.();
  }
  return { runId, pid: proc.pid };
}
