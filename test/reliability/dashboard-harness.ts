import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { generateDashboards } from '../../examples/dashboard-v2/src/generate-dashboards.js';
import { ensureControlSchema } from '../../src/store/control-schema.js';
import { REPO_ROOT, killHard, runCli, spawnCli, type CliProcess } from '../helpers/cli-process.js';
import { databaseFingerprint, type DatabaseFingerprint } from '../helpers/database-fingerprint.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * Shared machinery of the reliability suite: the dashboard-v2 example plan
 * run by the real CLI in child processes, on databases cloned from one
 * template holding the generated legacy data, killed (SIGKILL) at points
 * observed and provoked from outside through the database — row locks on
 * step rows, table locks, open snapshots — never through hooks in cutover.
 */

/** The example plan (run by absolute path from a temporary working directory). */
export const PLAN = join(REPO_ROOT, 'examples', 'dashboard-v2', 'cutover.yaml');
export const PLAN_NAME = 'dashboard-v2';
/**
 * Time limit of one case, ms: a case runs the whole plan (twice for a
 * rollback case) in child processes, several cases at once on a shared machine.
 */
export const CASE_TIMEOUT_MS = 240_000;

/** Users generated: enough for several backfill batches, small enough to stay fast. */
export const USERS = 2000;

/** A database with the example's legacy data and cutover's control schema, to clone. */
export async function createTemplate(): Promise<TestDatabase> {
  const template = await createTestDatabase('dashtmpl');
  await generateDashboards(template.pool, { users: USERS, seed: 20240601 });
  await ensureControlSchema(template.pool);
  await template.closePool();
  return template;
}

/** One case's world: a clone of the template and a working directory for `.cutover/`. */
export interface Sandbox {
  db: TestDatabase;
  dir: string;
  /** `cutover <args> --database-url <db>` in `dir`, to the end. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts `cutover <args> --database-url <db>` in `dir`. */
  spawn(...args: string[]): CliProcess;
  dispose(): Promise<void>;
}

export async function createSandbox(template: TestDatabase): Promise<Sandbox> {
  const db = await createTestDatabase('dash', { template: template.name });
  const dir = await mkdtemp(join(tmpdir(), 'cutover-reliab-'));
  const withDb = (args: string[]) => [...args, '--database-url', db.url];
  return {
    db,
    dir,
    cli: (...args) => runCli(withDb(args), { cwd: dir }),
    spawn: (...args) => spawnCli(withDb(args), { cwd: dir }),
    async dispose() {
      // pg_dump of a killed runner may still be connected: end it with the database.
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The end state compared between runs: user tables, the snapshot copies, the migration history. */
export interface EndState {
  public: DatabaseFingerprint;
  /** Copies in `cutover_snapshots` (run id prefix replaced by RUN), without its metadata table. */
  snapshots: Record<string, string>;
  /** Versioned migrations in `cutover.schema_migrations` (version name kind checksum). */
  history: string[];
  /** Statement checkpoints of unfinished non-transactional migrations (none once a run is done). */
  migrationCheckpoints: number;
  /** The flags as they are now (`cutover.flags`: key, version, definition), run ids replaced by RUN. */
  flags: string[];
  /** The flags' version history (`cutover.flag_versions`: key, version, action, definition, previous version). */
  flagVersions: string[];
}

/** The steps of the example plan, in order. */
export const STEPS = [
  'prepare.0', // snapshot
  'prepare.1', // backup
  'expand.0', // migrate (tables, then indexes CONCURRENTLY)
  'expand.1', // backfill
  'expand.2', // verify
  'approve.0', // approve
  'rollout.0', // flag new-dashboard 5% (created)
  'rollout.1', // approve
  'rollout.2', // flag 50%
  'rollout.3', // approve
  'rollout.4', // flag 100%
  'contract.0', // migrate: drop the legacy table (irreversible phase)
] as const;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

export async function endState(pool: pg.Pool): Promise<EndState> {
  const snapshots = await databaseFingerprint(pool, ['cutover_snapshots'], (t) =>
    t.replace(/^cutover_snapshots\.[0-9a-f]{8}_/, 'cutover_snapshots.RUN_'),
  );
  delete snapshots.tables['cutover_snapshots.snapshots'];
  const { rows: history } = await pool.query<{ line: string }>(
    `select concat_ws(' ', version, name, kind, checksum) as line
       from cutover.schema_migrations order by version`,
  );
  const { rows: checkpoints } = await pool.query<{ n: number }>(
    'select count(*)::int as n from cutover.migration_checkpoints',
  );
  const { rows: flags } = await pool.query<{ line: string }>(
    `select concat_ws(' ', key, version, definition::text) as line from cutover.flags order by key`,
  );
  const { rows: versions } = await pool.query<{ line: string }>(
    `select concat_ws(' ', key, version, action, definition::text, previous_version) as line
       from cutover.flag_versions order by key, version`,
  );
  return {
    public: await databaseFingerprint(pool),
    snapshots: snapshots.tables,
    history: history.map((h) => h.line),
    migrationCheckpoints: checkpoints[0]?.n ?? 0,
    flags: flags.map((f) => f.line.replace(UUID, 'RUN')),
    flagVersions: versions.map((v) => v.line.replace(UUID, 'RUN')),
  };
}

/** Files in the working directory's `.cutover/backups` (dumps, sidecars, leftovers). */
export async function backupFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(join(dir, '.cutover', 'backups'))).sort();
  } catch {
    return [];
  }
}

/** A transaction held open by the test (a lock, a snapshot); `release()` commits it. */
export interface Held {
  release(): Promise<void>;
}

/**
 * Watches (and steers) one runner process: waits for database-visible
 * moments and takes the locks that make a point of the run last until the
 * test kills the runner there.
 */
export class RunWatch {
  private exited = false;
  private readonly held: Held[] = [];
  private process: CliProcess | undefined;
  runId: string | undefined;

  constructor(readonly sandbox: Sandbox) {}

  /** Starts the runner: `cutover <args>` in the sandbox. */
  start(...args: string[]): CliProcess {
    const proc = this.sandbox.spawn(...args);
    this.process = proc;
    void proc.exited.then(() => (this.exited = true));
    return proc;
  }

  get proc(): CliProcess {
    if (this.process === undefined) throw new Error('the runner was not started');
    return this.process;
  }

  get pool(): pg.Pool {
    return this.sandbox.db.pool;
  }

  /** Throws when the runner has already ended (the kill point would be missed). */
  alive(what: string): void {
    if (this.process !== undefined && this.exited) {
      throw new Error(
        `the runner ended before ${what} (exit ${this.proc.child.exitCode}): ${this.proc.stdout()}\n${this.proc.stderr()}`.slice(
          0,
          4000,
        ),
      );
    }
  }

  private async until<T>(
    what: string,
    check: () => Promise<T | undefined | false | null>,
  ): Promise<T> {
    return waitUntil(
      async () => {
        this.alive(what);
        return check();
      },
      { what, everyMs: 5, timeoutMs: 60_000 },
    );
  }

  /** The run's id, once it exists. */
  async run(): Promise<string> {
    this.runId ??= await this.until('the run exists', async () => {
      const { rows } = await this.pool
        .query<{ id: string }>(
          'select id::text from cutover.runs where plan_name = $1 order by created_at desc limit 1',
          [PLAN_NAME],
        )
        .catch(() => ({ rows: [] as { id: string }[] }));
      return rows[0]?.id;
    });
    return this.runId;
  }

  /** Waits until the `nth` event of `type` (of `stepId`) is committed. */
  async event(type: string, stepId?: string, nth = 1): Promise<void> {
    const runId = await this.run();
    await this.until(`event ${type}${stepId ? ` of ${stepId}` : ''}`, async () => {
      const { rows } = await this.pool.query<{ n: number }>(
        `select count(*)::int as n from cutover.events
          where run_id = $1 and type = $2 and ($3::text is null or step_id = $3)`,
        [runId, type, stepId ?? null],
      );
      return (rows[0]?.n ?? 0) >= nth;
    });
  }

  /** Whether an event of `type` (of `stepId`) is committed. */
  async hasEvent(type: string, stepId?: string): Promise<boolean> {
    const { rows } = await this.pool.query(
      `select 1 from cutover.events where run_id = $1 and type = $2 and ($3::text is null or step_id = $3) limit 1`,
      [await this.run(), type, stepId ?? null],
    );
    return rows.length > 0;
  }

  /** The step's checkpoint as committed now. */
  async checkpointOf(stepId: string): Promise<unknown> {
    const { rows } = await this.pool.query<{ checkpoint: unknown }>(
      'select checkpoint from cutover.steps where run_id = $1 and step_id = $2',
      [await this.run(), stepId],
    );
    return rows[0]?.checkpoint ?? null;
  }

  /** Status of a step now. */
  async stepStatus(stepId: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ status: string }>(
      'select status from cutover.steps where run_id = $1 and step_id = $2',
      [await this.run(), stepId],
    );
    return rows[0]?.status;
  }

  /**
   * Holds the row of `stepId` (FOR UPDATE): the runner blocks at its next
   * write of that step — the transition to running (between steps), to
   * completed (after the step's work), or to compensating (in a rollback).
   */
  async holdStep(stepId: string): Promise<Held> {
    const runId = await this.run();
    return this.hold(`step row ${stepId}`, [
      [
        'select 1 from cutover.steps where run_id = $1 and step_id = $2 for update',
        [runId, stepId],
      ],
    ]);
  }

  /** Takes `lock table <table> in <mode> mode` in a transaction held open. */
  async lockTable(table: string, mode: string): Promise<Held> {
    return this.hold(`${mode} lock on ${table}`, [[`lock table ${table} in ${mode} mode`, []]]);
  }

  /**
   * Asks for `lock table <table> in <mode> mode` in a transaction held open,
   * without waiting for it: `granted` resolves once the lock is held (it may
   * queue behind a runner's transaction).
   */
  async requestLock(table: string, mode: string): Promise<Held & { granted: Promise<void> }> {
    const client = await this.pool.connect();
    await client.query('begin');
    let released = false;
    const granted = client.query(`lock table ${table} in ${mode} mode`).then(() => undefined);
    granted.catch(() => undefined);
    const held = {
      granted,
      release: async () => {
        if (released) return;
        released = true;
        await granted.catch(() => undefined);
        await client.query('commit').catch(() => undefined);
        client.release();
      },
    };
    this.held.push(held);
    return held;
  }

  /** Opens a REPEATABLE READ transaction holding a snapshot (what `CREATE INDEX CONCURRENTLY` waits for). */
  async openSnapshot(): Promise<Held> {
    return this.hold('an open snapshot', [
      ['begin isolation level repeatable read', []],
      ['select 1', []],
    ]);
  }

  private async hold(what: string, statements: [string, unknown[]][]): Promise<Held> {
    const client = await this.pool.connect();
    try {
      if (statements[0]?.[0].startsWith('begin') !== true) await client.query('begin');
      for (const [sql, values] of statements) await client.query(sql, values);
      // A parameterized statement leaves its portal, and with it its snapshot, open until
      // the next statement; an open snapshot would hold up CREATE INDEX CONCURRENTLY.
      await client.query('select 1');
    } catch (error) {
      client.release();
      throw new Error(`could not take ${what}: ${String(error)}`);
    }
    let released = false;
    const held: Held = {
      release: async () => {
        if (released) return;
        released = true;
        await client.query('commit').catch(() => undefined);
        client.release();
      },
    };
    this.held.push(held);
    return held;
  }

  /**
   * Waits until the runner waits to write a step row (see {@link holdStep})
   * and says which writes wait: `checkpoint` (a backfill batch's, inside the
   * batch's transaction), `progress` (reported in the background) or
   * `transition` (the step's status: started, completed…).
   */
  async blockedStepWrites(): Promise<('checkpoint' | 'progress' | 'transition')[]> {
    return this.until('a write of a step row waiting', async () => {
      const { rows } = await this.pool.query<{ query: string }>(
        `select query from pg_stat_activity
          where datname = current_database() and state = 'active' and wait_event_type = 'Lock'
            and query like 'update cutover.steps%'`,
      );
      if (rows.length === 0) return undefined;
      return rows.map(({ query }) =>
        /^update cutover\.steps set checkpoint /.test(query)
          ? 'checkpoint'
          : /^update cutover\.steps set progress /.test(query)
            ? 'progress'
            : 'transition',
      );
    });
  }

  /** Waits until the runner waits for a lock while writing a step row (see {@link holdStep}). */
  async blockedOnStepRow(): Promise<void> {
    await this.waiting('update cutover.steps%');
  }

  /** Waits until a statement like `pattern` (SQL LIKE) is running on the database. */
  async running(pattern: string): Promise<void> {
    await this.activity(pattern, false);
  }

  /** Waits until a statement like `pattern` (SQL LIKE) waits for a lock (or a virtual xid). */
  async waiting(pattern: string): Promise<void> {
    await this.activity(pattern, true);
  }

  private async activity(pattern: string, waiting: boolean): Promise<void> {
    await this.until(`${waiting ? 'a wait in' : 'a statement like'} ${pattern}`, async () => {
      const { rows } = await this.pool.query(
        `select 1 from pg_stat_activity
          where datname = current_database() and state = 'active' and pid <> pg_backend_pid()
            and query ilike $1 and query not ilike '%pg_stat_activity%'
            and ($2::boolean is false or wait_event_type = 'Lock')`,
        [pattern, waiting],
      );
      return rows.length > 0;
    });
  }

  /**
   * SIGKILLs the runner (after checking it is still running: the point was
   * hit) and ends its `pg_dump` child, as a crash of its host would. Its
   * statement in flight, if any, goes on in the server until the test's
   * locks are released (`releaseAll`), as after a real crash: the server
   * notices the closed connection only when the statement ends (a
   * non-transactional one such as CREATE INDEX CONCURRENTLY then completes).
   */
  async kill(): Promise<{ signal: NodeJS.Signals | null }> {
    this.alive('the kill');
    this.proc.child.kill('SIGKILL');
    const result = await this.proc.exited;
    await this.pool.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
        where datname = current_database() and application_name = 'pg_dump'`,
    );
    return { signal: result.signal };
  }

  async releaseAll(): Promise<void> {
    for (const held of this.held.splice(0)) await held.release();
  }

  /** For cleanup after a failed case. */
  async dispose(): Promise<void> {
    if (this.process !== undefined && !this.exited) await killHard(this.process);
    await this.releaseAll();
  }
}

/** Holds `stepId`'s row, lets the run go, and waits until the runner blocks before that step. */
export async function betweenSteps(
  w: RunWatch,
  openGate: () => Promise<void>,
  stepId: string,
  expectedStatus = 'pending',
): Promise<void> {
  await w.holdStep(stepId);
  await openGate();
  await w.blockedOnStepRow();
  const status = await w.stepStatus(stepId);
  if (status !== expectedStatus) {
    throw new Error(`missed the point before ${stepId}: it is ${status ?? 'missing'}`);
  }
}

/** The indexes of dashboard_widgets besides its primary key: valid or invalid. */
export async function indexState(pool: pg.Pool): Promise<Record<string, 'valid' | 'invalid'>> {
  const { rows } = await pool.query<{ name: string; valid: boolean }>(
    `select c.relname as name, i.indisvalid and i.indisready as valid
       from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = to_regclass('public.dashboard_widgets') and not i.indisprimary
      order by 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.valid ? 'valid' : 'invalid']));
}
