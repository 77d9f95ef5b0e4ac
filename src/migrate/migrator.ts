import { userInfo } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';
import pg from 'pg';
import { connect, isConnectionError, redactDatabaseUrl, toConnectionError } from '../db/index.js';
import { CutoverError, isCutoverError } from '../errors/index.js';
import { ensureControlSchema } from '../store/index.js';
import { adoptHistory, type AdoptResult, type AdoptTool } from './adopt-history.js';
import { createMigrationFiles, type CreatedMigration } from './create-migration.js';
import { describeStatements } from './dry-run.js';
import {
  migrationKey,
  readCheckpoints,
  readHistory,
  type CheckpointEntry,
  type HistoryEntry,
} from './history.js';
import { BatchSizer, batchLength, isBatchable } from './migration-batch.js';
import { hashStatements, MigrationExecutor, type BatchStop } from './migration-executor.js';
import { acquireMigrationLock, type HeldLock } from './migration-lock.js';
import {
  computeStatus,
  describeMigration,
  validateStatus,
  versionKey,
} from './migration-status.js';
import type { Migration, MigrationLayout } from './migration.js';
import type {
  MigrateEvent,
  MigrationResult,
  MigrationResultSet,
  MigrationStatusReport,
  ValidationReport,
} from './migrator-types.js';
import { prepareStep, type HistoryChange, type PreparedStep } from './prepared-step.js';
import { compareVersions, isValidVersion, loadMigrations } from './source-functions.js';

/**
 * Options of {@link Migrator}. Durations are in milliseconds.
 */
export interface MigratorOptions {
  /** Database URL (`postgres://…`). The migrator opens (and `close()` ends) its own pool. */
  databaseUrl?: string;
  /**
   * An existing pool instead of `databaseUrl` (not ended by `close()`). It
   * needs room for 3 connections at once (the advisory lock, the blocking-
   * session monitor, a TypeScript migration); SQL migrations run on one more
   * dedicated connection made from `pool.options`.
   */
  pool?: pg.Pool;
  /** Migrations directory (layout auto-detected). Relative paths resolve against `cwd`. */
  dir?: string;
  /**
   * Already-loaded migrations (or a loader) instead of reading `dir`; sorted
   * like `loadMigrations` sorts them.
   */
  migrations?: readonly Migration[] | (() => Promise<Migration[]>);
  /** Force a layout instead of detecting it. */
  layout?: MigrationLayout;
  /** `lock_timeout` of every migration statement. Default 2000; 0 disables it. */
  lockTimeoutMs?: number;
  /** `statement_timeout` of every migration statement. Default 0 (none). */
  statementTimeoutMs?: number;
  /** Retries after a lock timeout (55P03) or deadlock (40P01). Default 5. */
  lockRetries?: number;
  /** How long to wait for another migrator's advisory lock. Default 10 000. */
  lockWaitMs?: number;
  /** First retry delay before jitter (doubles each retry). Default 500. */
  retryBaseDelayMs?: number;
  /** Cap of a retry delay. Default 10 000. */
  retryMaxDelayMs?: number;
  /** Apply pending migrations older than the newest applied one. Default false (refused). */
  allowOutOfOrder?: boolean;
  /**
   * Send consecutive transactional SQL migrations in batches, one message
   * each (every migration still in its own transaction; see the README, "How
   * a migration runs"). Default true; false sends each migration on its own.
   */
  batch?: boolean;
  /** Plan run id (uuid) recorded with each migration applied. Default none. */
  runId?: string;
  /** Recorded as `applied_by`. Default the OS user name. */
  appliedBy?: string;
  /** Working directory for `dir` and for the paths shown in messages. Default `process.cwd()`. */
  cwd?: string;
  /** `application_name` of the migrator's connections. Default `cutover migrate`. */
  applicationName?: string;
  /** Time source (ms since the epoch). Default `Date.now`. */
  clock?: { now(): number };
  /** Uniform random in [0, 1) for retry jitter. Default `Math.random`. */
  random?: () => number;
  /** Sleep between retries. Default `setTimeout`. */
  sleep?: (ms: number) => Promise<void>;
  /** Progress events (lock waits, migration start/end, retries…). Exceptions it throws are ignored. */
  onEvent?: (event: MigrateEvent) => void;
}

/** Options of {@link Migrator.up}. */
export interface UpOptions {
  /** Apply pending versioned migrations up to and including this version. Default all. */
  to?: string;
  /** Describe what would run (SQL, transaction, lock per statement, table sizes) without running it. */
  dryRun?: boolean;
  /**
   * Stop between migrations when aborted (the running migration finishes; a
   * running batch of migrations finishes too, see `MigratorOptions.batch`).
   */
  signal?: AbortSignal;
}

/** Options of {@link Migrator.down}. Give `to` or `steps`, not both; default `steps: 1`. */
export interface DownOptions {
  /**
   * Revert every applied versioned migration newer than this version (the
   * version itself stays applied); `null` or `"0"` reverts all of them. Any
   * other version must be one of a file or of the history, else the result
   * has error `MIGRATION_VERSION_NOT_FOUND` (not_found) and nothing is reverted.
   */
  to?: string | null;
  /** Revert the newest `steps` applied versioned migrations. */
  steps?: number;
  /** Stop between migrations when aborted. */
  signal?: AbortSignal;
}

/** What {@link Migrator.baseline} returns. */
export interface BaselineResult {
  /** The baseline version recorded. */
  version: string;
  /** Migration files at or below it (never applied by cutover; counted as applied). */
  covered: { version: string; name: string }[];
  error?: CutoverError;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * cutover's schema migration engine (`import { Migrator } from 'cutover'`).
 *
 * ```ts
 * const migrator = new Migrator({ databaseUrl, dir: 'migrations' });
 * const { results, error } = await migrator.up();
 * await migrator.close();
 * ```
 *
 * Safety, in short (details on each method and in the README):
 * - one transaction per migration (statements that cannot run in a
 *   transaction make their migration run statement by statement, with a
 *   checkpoint after each statement); consecutive transactional SQL
 *   migrations are sent in batches, one message each, a failure stopping the
 *   batch at the failing migration (see the README, "How a migration runs");
 * - a session advisory lock on a dedicated connection for the whole
 *   `up`/`down`/`baseline`/`adopt`: a second migrator waits `lockWaitMs`, then
 *   fails with `LOCK_BUSY` naming the holder;
 * - `lock_timeout` (and optional `statement_timeout`) on every statement,
 *   lock timeouts retried with backoff, the final failure naming the blocking
 *   sessions (`MIGRATION_LOCK_TIMEOUT`, category `busy`);
 * - a failing statement is `MIGRATION_FAILED` with its `file:line:column`,
 *   the server message and SQLSTATE.
 *
 * `up`, `down`, `baseline` and `adopt` never throw for operational failures:
 * they return a result whose `error` is set (Kysely's pattern). `status` and
 * `validate` are read-only and throw CutoverError `DATABASE_UNREACHABLE` /
 * migration parse errors. The constructor throws `MIGRATOR_OPTIONS_INVALID`
 * (usage) for bad options.
 */
export class Migrator {
  private readonly options: MigratorOptions;
  private readonly cwd: string;
  private readonly now: () => number;
  private ownPool: Promise<pg.Pool> | undefined;

  constructor(options: MigratorOptions) {
    const problems: string[] = [];
    if (options.databaseUrl === undefined && options.pool === undefined) {
      problems.push('give databaseUrl or pool');
    }
    if (options.dir === undefined && options.migrations === undefined) {
      problems.push('give dir (or migrations)');
    }
    for (const key of [
      'lockTimeoutMs',
      'statementTimeoutMs',
      'lockRetries',
      'lockWaitMs',
      'retryBaseDelayMs',
      'retryMaxDelayMs',
    ] as const) {
      const value = options[key];
      if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
        problems.push(`${key} must be a non-negative integer (got ${String(value)})`);
      }
    }
    if (options.runId !== undefined && !uuidPattern.test(options.runId)) {
      problems.push(`runId must be a uuid (got "${options.runId}")`);
    }
    if (problems.length > 0) {
      throw new CutoverError(
        'MIGRATOR_OPTIONS_INVALID',
        'usage',
        `Invalid Migrator options: ${problems.join('; ')}.`,
        { hint: 'See the MigratorOptions documentation.' },
      );
    }
    this.options = options;
    this.cwd = options.cwd ?? process.cwd();
    const clock = options.clock;
    this.now = clock === undefined ? () => Date.now() : () => clock.now();
  }

  /** The migrations directory (absolute), when one was given. */
  get dir(): string | undefined {
    return this.options.dir === undefined ? undefined : resolve(this.cwd, this.options.dir);
  }

  /** Ends the pool the migrator opened itself (not a pool passed in). Idempotent. */
  async close(): Promise<void> {
    const own = this.ownPool;
    this.ownPool = undefined;
    if (own !== undefined) await (await own.catch(() => undefined))?.end();
  }

  // ------------------------------------------------------------------ public API

  /**
   * Applies pending migrations in version order (each in its own transaction
   * unless it cannot run in one), then repeatable migrations whose checksum
   * changed (Flyway's order), stopping at the first failure.
   *
   * Before anything runs: the history is validated (modified or missing files,
   * out-of-order pending migrations unless `allowOutOfOrder` →
   * `MIGRATION_VALIDATION_FAILED`), and every script to run is checked
   * (transaction-control statements, TypeScript modules import).
   *
   * With `dryRun`, nothing is locked, created or run: each pending migration
   * gets status `dry-run` with its statements' lock analysis and table sizes.
   *
   * Errors (in `error`): `LOCK_BUSY`, `MIGRATION_VALIDATION_FAILED`,
   * `MIGRATION_VERSION_NOT_FOUND` (unknown `to`), `MIGRATION_FAILED`,
   * `MIGRATION_LOCK_TIMEOUT`, `MIGRATION_CHECKPOINT_MISMATCH`,
   * `DATABASE_UNREACHABLE`, `DATABASE_CONNECTION_LOST`, parse errors of the files.
   */
  async up(options: UpOptions = {}): Promise<MigrationResultSet> {
    if (options.dryRun === true) return this.dryRun(options);
    return this.guard(async () => {
      const migrations = await this.loadMigrations();
      return this.withLockedSession(async (session) => {
        const report = computeStatus(
          migrations,
          session.history,
          session.checkpoints,
          this.layout(migrations),
        );
        const validation = validateStatus(report, this.validateOptions());
        const plan = this.planUp(migrations, session.history, report, options.to);
        const pending = plan.map((p) => pendingResult(p.migration, 'up'));
        if (!validation.ok) return refused(pending, validation.error);
        let prepared: Awaited<ReturnType<Migrator['prepareAll']>>;
        try {
          prepared = await this.prepareAll(plan, 'up', session.checkpoints);
        } catch (error) {
          return refused(pending, this.asCutoverError(error));
        }
        return this.execute(session, prepared, options.signal);
      }).catch(async (error: unknown) => {
        if (!isCutoverError(error) || error.code !== 'LOCK_BUSY') throw error;
        // Say which migrations stay pending (read-only, best effort).
        const pending = await this.readOnlyPlan(migrations, options.to).catch(() => []);
        return refused(pending, this.asCutoverError(error));
      });
    });
  }

  /** The migrations `up` would run now, as `pending` results, from a read-only look at the history. */
  private async readOnlyPlan(
    migrations: readonly Migration[],
    to: string | undefined,
  ): Promise<MigrationResult[]> {
    const pool = await this.pool();
    const [history, checkpoints] = await Promise.all([readHistory(pool), readCheckpoints(pool)]);
    const report = computeStatus(migrations, history, checkpoints, this.layout(migrations));
    return this.planUp(migrations, history, report, to).map((p) =>
      pendingResult(p.migration, 'up'),
    );
  }

  /**
   * Reverts applied versioned migrations, newest version first, with their
   * down scripts (dbmate `-- migrate:down`, `.down.sql`, Flyway `U` files,
   * Prisma `down.sql`, TypeScript `down`), each in its own transaction, and
   * removes them from the history.
   *
   * Refused BEFORE anything runs when any migration to revert has no down
   * script (`MIGRATION_DOWN_MISSING`) or no file (`MIGRATION_FILE_MISSING`),
   * or when `steps` exceeds the applied migrations (`MIGRATION_STEPS_INVALID`),
   * or when `to` names no known version (`MIGRATION_VERSION_NOT_FOUND`).
   * The baseline marker is never reverted.
   */
  async down(options: DownOptions = {}): Promise<MigrationResultSet> {
    return this.guard(async () => {
      if (options.to !== undefined && options.steps !== undefined) {
        throw new CutoverError(
          'MIGRATION_STEPS_INVALID',
          'usage',
          'Give either a target version or a number of steps to revert, not both.',
          {
            hint: 'Use --to VERSION or --steps N.',
          },
        );
      }
      if (options.steps !== undefined && (!Number.isInteger(options.steps) || options.steps < 1)) {
        throw new CutoverError(
          'MIGRATION_STEPS_INVALID',
          'usage',
          `The number of steps must be a positive integer (got ${String(options.steps)}).`,
          {
            hint: 'Use --steps 1 to revert the newest migration.',
          },
        );
      }
      const migrations = await this.loadMigrations();
      return this.withLockedSession(async (session) => {
        const layout = this.layout(migrations) ?? 'native';
        const cmp = (a: string, b: string): number => compareVersions(a, b, layout);
        const applied = session.history
          .filter(
            (r): r is HistoryEntry & { version: string } =>
              r.kind === 'versioned' && r.version !== null,
          )
          .sort((a, b) => cmp(b.version, a.version));
        let targets: (HistoryEntry & { version: string })[];
        if (options.to !== undefined) {
          const to = options.to;
          // `0` (any number of zeros) means "before the first migration".
          if (to !== null && !/^0+$/.test(to)) {
            this.assertKnownVersion(to, migrations, session.history, layout);
          }
          targets = to === null ? applied : applied.filter((r) => cmp(r.version, to) > 0);
        } else {
          const steps = options.steps ?? 1;
          if (steps > applied.length) {
            throw new CutoverError(
              'MIGRATION_STEPS_INVALID',
              'usage',
              `Cannot revert ${steps} migration${steps === 1 ? '' : 's'}: only ${applied.length} ${applied.length === 1 ? 'is' : 'are'} applied; nothing was reverted.`,
              { hint: `Use --steps ${Math.max(1, applied.length)} or less.` },
            );
          }
          targets = applied.slice(0, steps);
        }
        const byKey = new Map(
          migrations
            .filter((m) => m.version !== undefined)
            .map((m) => [versionKey(m.version as string, layout), m] as const),
        );
        const plan: { migration: Migration; history: HistoryChange }[] = [];
        for (const row of targets) {
          const migration = byKey.get(versionKey(row.version, layout));
          if (migration === undefined) {
            throw new CutoverError(
              'MIGRATION_FILE_MISSING',
              'config',
              `Cannot revert ${describeMigration(row.version, row.name)}: its migration file is gone; nothing was reverted.`,
              {
                location: this.dir ?? '',
                hint: 'Restore the file (with its down script) and run the command again.',
              },
            );
          }
          if (row.checksum !== migration.checksum) {
            this.emit({
              type: 'warning',
              message: `${describeMigration(row.version, row.name)} changed since it was applied; reverting it with the down script in the current file.`,
            });
          }
          plan.push({ migration, history: { type: 'delete-versioned', version: row.version } });
        }
        const prepared = await this.prepareAll(plan, 'down', session.checkpoints);
        return this.execute(session, prepared, options.signal);
      });
    });
  }

  /**
   * Every migration file and history entry with its state (applied, pending,
   * modified, missing, baseline, below-baseline), in version order.
   * Read-only: creates nothing in the database.
   *
   * @throws CutoverError for unreadable migration files, `DATABASE_UNREACHABLE`.
   */
  async status(): Promise<MigrationStatusReport> {
    const migrations = await this.loadMigrations();
    const pool = await this.pool();
    const [history, checkpoints] = await Promise.all([
      readHistory(pool),
      readCheckpoints(pool),
    ]).catch((error: unknown) => {
      throw this.connectionError(error);
    });
    return computeStatus(migrations, history, checkpoints, this.layout(migrations));
  }

  /**
   * Checks the history against the files: applied migrations whose file
   * changed (`modified`) or is gone (`missing`), and pending migrations older
   * than the newest applied one (`out-of-order`, unless `allowOutOfOrder`).
   * Read-only. When not ok, `error` is `MIGRATION_VALIDATION_FAILED`
   * (category `validation`, CLI exit 3).
   */
  async validate(options: { allowOutOfOrder?: boolean } = {}): Promise<ValidationReport> {
    const report = await this.status();
    return validateStatus(report, {
      ...this.validateOptions(),
      ...(options.allowOutOfOrder === undefined
        ? {}
        : { allowOutOfOrder: options.allowOutOfOrder }),
    });
  }

  /**
   * Records `version` as the baseline of an existing database: migration files
   * at or below it count as applied and are never run (Flyway's baseline).
   * Refused (`BASELINE_REFUSED`, category `refused`) when the history is not
   * empty; `MIGRATION_VERSION_INVALID` (usage) for a malformed version.
   */
  async baseline(version: string): Promise<BaselineResult> {
    let covered: BaselineResult['covered'] = [];
    const error = await this.guardError(async () => {
      const migrations = await this.loadMigrations();
      const layout = this.layout(migrations) ?? 'native';
      if (!isValidVersion(version, layout)) {
        throw new CutoverError(
          'MIGRATION_VERSION_INVALID',
          'usage',
          `"${version}" is not a valid ${layout} migration version.`,
          {
            hint:
              layout === 'flyway'
                ? 'Use a dotted number such as 1.2 or 3.'
                : 'Use an integer such as 0003 or 20240101120000.',
          },
        );
      }
      await this.withLockedSession(async (session) => {
        if (session.history.length > 0) {
          const newest = computeStatus(migrations, session.history, [], layout).current;
          throw new CutoverError(
            'BASELINE_REFUSED',
            'refused',
            `Cannot baseline at ${version}: the migration history already has ${session.history.length} entr${session.history.length === 1 ? 'y' : 'ies'}${newest === undefined ? '' : ` (newest ${newest})`}.`,
            {
              hint: 'Baseline only a database that cutover has not migrated yet; use "cutover migrate status" to see the history.',
            },
          );
        }
        const key = versionKey(version, layout);
        const file = migrations.find(
          (m) => m.version !== undefined && versionKey(m.version, layout) === key,
        );
        await session.pool.query(
          `insert into cutover.schema_migrations (version, name, kind, checksum, applied_by, run_id, source)
           values ($1, $2, 'baseline', $3, $4, $5, 'baseline')`,
          [
            version,
            file?.name ?? 'baseline',
            file?.checksum ?? null,
            this.appliedBy(),
            this.options.runId ?? null,
          ],
        );
        covered = migrations
          .filter(
            (m): m is Migration & { version: string } =>
              m.version !== undefined && compareVersions(m.version, version, layout) <= 0,
          )
          .map((m) => ({ version: m.version, name: m.name }));
        return { results: [] };
      });
    });
    return { version, covered, ...(error === undefined ? {} : { error }) };
  }

  /**
   * Imports another tool's history into cutover's, so switching tools loses
   * nothing: `prisma` reads `_prisma_migrations` (finished, not rolled back),
   * `flyway` reads `flyway_schema_history` (successful rows, undo and delete
   * markers honoured, its baseline kept as cutover's baseline). Checksums are
   * compared with the tool's own algorithm (Prisma: sha256 of the file, CRLF or
   * LF; Flyway: CRC32 of the lines): a file that matches is recorded with
   * cutover's checksum, one that does not is recorded with the tool's checksum
   * so `validate` reports it modified. Idempotent (entries already present are
   * kept). Error `ADOPT_SOURCE_NOT_FOUND` (not_found) when the table is absent.
   */
  async adopt(tool: AdoptTool): Promise<AdoptResult> {
    let result: AdoptResult = { tool, adopted: [], alreadyPresent: [], ignored: [] };
    const error = await this.guardError(async () => {
      const migrations = await this.loadMigrations();
      await this.withLockedSession(async (session) => {
        result = await adoptHistory(
          session.pool,
          tool,
          migrations,
          this.layout(migrations) ?? (tool === 'prisma' ? 'prisma' : 'flyway'),
          {
            appliedBy: this.appliedBy(),
            runId: this.options.runId ?? null,
          },
        );
        return { results: [] };
      });
    });
    return error === undefined ? result : { ...result, error };
  }

  /**
   * Creates a new, empty migration in the directory's layout and naming
   * (`NNNN_name.sql` with dbmate sections, `N_name.up.sql` + `.down.sql`,
   * `V<n>__name.sql` + `U<n>__name.sql`, `<timestamp>_name/migration.sql` +
   * `down.sql`, `NNNN_name.ts`), numbered after the newest existing version
   * (timestamps when the directory uses timestamps). Creates the directory
   * if needed. Throws `MIGRATION_NAME_INVALID` (usage), parse errors of
   * existing files.
   */
  async create(name: string): Promise<CreatedMigration> {
    const dir = this.dir;
    if (dir === undefined) {
      throw new CutoverError(
        'MIGRATOR_OPTIONS_INVALID',
        'usage',
        'create() needs the dir option.',
        {},
      );
    }
    return createMigrationFiles(dir, name, {
      ...(this.options.layout === undefined ? {} : { layout: this.options.layout }),
      now: this.now,
      load: () => this.loadMigrations(),
    });
  }

  // ------------------------------------------------------------------ internals

  private validateOptions(): { allowOutOfOrder: boolean; dir?: string } {
    return {
      allowOutOfOrder: this.options.allowOutOfOrder === true,
      ...(this.dir === undefined ? {} : { dir: this.display(this.dir) }),
    };
  }

  private async dryRun(options: UpOptions): Promise<MigrationResultSet> {
    return this.guard(async () => {
      const migrations = await this.loadMigrations();
      const pool = await this.pool();
      const [history, checkpoints] = await Promise.all([
        readHistory(pool),
        readCheckpoints(pool),
      ]).catch((error: unknown) => {
        throw this.connectionError(error);
      });
      const report = computeStatus(migrations, history, checkpoints, this.layout(migrations));
      const validation = validateStatus(report, this.validateOptions());
      const plan = this.planUp(migrations, history, report, options.to);
      const prepared = await this.prepareAll(plan, 'up', checkpoints);
      const results: MigrationResult[] = [];
      for (const step of prepared) {
        const result = pendingResult(step.migration, 'up', step);
        result.status = 'dry-run';
        if (step.sql !== undefined) {
          result.statements = await describeStatements(pool, step.sql.statements, (line, column) =>
            this.location(step.file, line, column),
          );
        }
        results.push(result);
      }
      return validation.ok
        ? { results }
        : { results, ...(validation.error === undefined ? {} : { error: validation.error }) };
    });
  }

  /**
   * @throws CutoverError `MIGRATION_VERSION_NOT_FOUND` (not_found) when no
   *   migration file and no history entry has version `to`.
   */
  private assertKnownVersion(
    to: string,
    migrations: readonly Migration[],
    history: readonly HistoryEntry[],
    layout: MigrationLayout,
  ): void {
    const key = versionKey(to, layout);
    const known =
      migrations.some((m) => m.version !== undefined && versionKey(m.version, layout) === key) ||
      history.some((r) => r.version !== null && versionKey(r.version, layout) === key);
    if (!known) {
      throw new CutoverError(
        'MIGRATION_VERSION_NOT_FOUND',
        'not_found',
        `No migration has version "${to}".`,
        {
          location: this.dir === undefined ? '' : this.display(this.dir),
          hint: 'Run "cutover migrate status" to list the versions (`--to 0` reverts every migration).',
        },
      );
    }
  }

  /** Pending versioned migrations up to `to`, then changed repeatables. */
  private planUp(
    migrations: readonly Migration[],
    history: readonly HistoryEntry[],
    report: MigrationStatusReport,
    to: string | undefined,
  ): { migration: Migration; history: HistoryChange }[] {
    const layout = this.layout(migrations) ?? 'native';
    const cmp = (a: string, b: string): number => compareVersions(a, b, layout);
    if (to !== undefined) this.assertKnownVersion(to, migrations, history, layout);
    const pendingVersions = new Set(
      report.migrations
        .filter((e) => e.state === 'pending' && e.kind === 'versioned' && e.version !== undefined)
        .map((e) => versionKey(e.version as string, layout)),
    );
    const pendingRepeatables = new Set(
      report.migrations
        .filter((e) => e.state === 'pending' && e.kind === 'repeatable')
        .map((e) => e.name),
    );
    const plan: { migration: Migration; history: HistoryChange }[] = [];
    for (const m of migrations) {
      if (m.kind !== 'versioned' || m.version === undefined) continue;
      if (!pendingVersions.has(versionKey(m.version, layout))) continue;
      if (to !== undefined && cmp(m.version, to) > 0) continue;
      plan.push({ migration: m, history: { type: 'insert-versioned', version: m.version } });
    }
    plan.sort((a, b) => cmp(a.migration.version ?? '', b.migration.version ?? ''));
    const repeatables = migrations
      .filter((m) => m.kind === 'repeatable' && pendingRepeatables.has(m.name))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const m of repeatables)
      plan.push({ migration: m, history: { type: 'upsert-repeatable' } });
    return plan;
  }

  /** Checks every step before anything runs (see {@link prepareStep}) and their checkpoints. */
  private async prepareAll(
    plan: readonly { migration: Migration; history: HistoryChange }[],
    direction: 'up' | 'down',
    checkpoints: readonly CheckpointEntry[],
  ): Promise<(PreparedStep & { checkpoint?: CheckpointEntry })[]> {
    const out: (PreparedStep & { checkpoint?: CheckpointEntry })[] = [];
    for (const { migration, history } of plan) {
      const step = await prepareStep(migration, direction, history, (file, line, column) =>
        this.location(file, line, column),
      );
      const checkpoint = checkpoints.find(
        (c) =>
          c.direction === direction &&
          c.migrationKey === migrationKey(migration.version, migration.name),
      );
      if (checkpoint !== undefined) {
        const statements = step.sql?.statements;
        const consistent =
          statements !== undefined &&
          !step.transactional &&
          checkpoint.statementsDone <= statements.length &&
          hashStatements(statements, checkpoint.statementsDone) === checkpoint.doneHash;
        if (!consistent) {
          throw new CutoverError(
            'MIGRATION_CHECKPOINT_MISMATCH',
            'refused',
            `${describeMigration(migration.version, migration.name)} stopped halfway in an earlier run after ${checkpoint.statementsDone} statement${checkpoint.statementsDone === 1 ? '' : 's'}, but those statements changed in the file since; nothing was run.`,
            {
              location: this.location(step.file),
              hint: `Restore the file as it was, or check the database by hand and then clear the checkpoint: DELETE FROM cutover.migration_checkpoints WHERE migration_key = '${checkpoint.migrationKey}' AND direction = '${direction}'.`,
              details: {
                statementsDone: checkpoint.statementsDone,
                lastError: checkpoint.lastError,
              },
            },
          );
        }
        out.push({ ...step, checkpoint });
      } else {
        out.push(step);
      }
    }
    return out;
  }

  /** Runs prepared steps in order on a dedicated (pipelined) connection; stops at the first failure. */
  private async execute(
    session: LockedSession,
    steps: readonly (PreparedStep & { checkpoint?: CheckpointEntry })[],
    signal: AbortSignal | undefined,
  ): Promise<MigrationResultSet> {
    const results: MigrationResult[] = steps.map((s) => pendingResult(s.migration, s.direction, s));
    if (steps.length === 0) return { results };
    const connection = await this.openExecutionConnection(session.pool);
    try {
      const executor = new MigrationExecutor(connection, {
        lockTimeoutMs: this.options.lockTimeoutMs ?? 2000,
        statementTimeoutMs: this.options.statementTimeoutMs ?? 0,
        lockRetries: this.options.lockRetries ?? 5,
        retryBaseDelayMs: this.options.retryBaseDelayMs ?? 500,
        retryMaxDelayMs: this.options.retryMaxDelayMs ?? 10_000,
        appliedBy: this.appliedBy(),
        runId: this.options.runId ?? null,
        random: this.options.random ?? Math.random,
        sleep: this.options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
        now: this.now,
        onEvent: (e) => this.emit(e),
        location: (file, line, column) => this.location(file, line, column),
        monitor: () => Promise.resolve(session.pool),
        checkoutClient: () => this.checkout(session.pool),
      });
      const sizer = new BatchSizer();
      const batching = connection.batching && this.options.batch !== false;
      /** Steps up to this index run one by one (a batch of them was refused as a whole). */
      let singlyThrough = -1;
      for (let i = 0; i < steps.length;) {
        const step = steps[i] as PreparedStep & { checkpoint?: CheckpointEntry };
        if (signal?.aborted === true) {
          await executor.flushWal().catch(() => undefined);
          return {
            results,
            error: new CutoverError(
              'MIGRATION_INTERRUPTED',
              'failed',
              `Stopped before ${describeMigration(step.migration.version, step.migration.name)}: interrupted; ${i} migration${i === 1 ? '' : 's'} completed.`,
              {
                hint: 'Run the command again to continue.',
              },
            ),
          };
        }
        if (session.lockLost()) {
          await executor.flushWal().catch(() => undefined);
          return {
            results,
            error: new CutoverError(
              'LOCK_LOST',
              'unavailable',
              `The connection holding the migration lock was lost before ${describeMigration(step.migration.version, step.migration.name)}; stopped with ${i} migration${i === 1 ? '' : 's'} completed.`,
              {
                hint: 'Check the database server and run the command again.',
              },
            ),
          };
        }
        let after: BatchStop | undefined;
        const count =
          batching && executor.canBatch && i > singlyThrough
            ? batchLength(steps, i, sizer.next())
            : 0;
        if (count >= 2) {
          const base = i;
          const batch = steps.slice(base, base + count);
          const started = this.now();
          after = await executor.runBatch(
            batch,
            batch.map((_, k) => base + k < steps.length - 1),
            (k, result) => {
              results[base + k] = result;
              this.emit({ type: 'migration-end', result });
            },
          );
          const done = after?.index ?? count;
          sizer.record(done, this.now() - started);
          i = base + done;
          if (after === undefined) continue;
          if (after.ranNothing) {
            singlyThrough = base + count - 1;
            after = undefined;
          }
        }
        const current = steps[i] as PreparedStep & { checkpoint?: CheckpointEntry };
        const result = await executor.run(current, current.checkpoint, {
          deferFlush: i < steps.length - 1,
          ...(after === undefined ? {} : { after }),
        });
        if (batching && isBatchable(current)) sizer.record(1, result.durationMs);
        results[i] = result;
        this.emit({ type: 'migration-end', result });
        if (result.status === 'failed') {
          await executor.flushWal().catch(() => undefined);
          return { results, ...(result.error === undefined ? {} : { error: result.error }) };
        }
        i++;
      }
      return { results };
    } finally {
      await connection.close();
    }
  }

  /**
   * Opens the connection SQL migrations run on: pipelined, so a migration is
   * one round trip; batches allowed on PostgreSQL ≥ 13 with
   * `standard_conforming_strings` on (see `ExecutionConnection.batching`).
   */
  private async openExecutionConnection(pool: pg.Pool): Promise<{
    client: pg.Client;
    pid: number;
    pipelined: boolean;
    batching: boolean;
    close(): Promise<void>;
  }> {
    const client = new pg.Client({
      ...pool.options,
      application_name: this.options.applicationName ?? 'cutover migrate',
      pipeline: true,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ pid: number; version: number; scs: string }>(
        `select pg_backend_pid() as pid, current_setting('server_version_num')::int as version,
                current_setting('standard_conforming_strings') as scs`,
      );
      const row = rows[0];
      return {
        client,
        pid: row?.pid ?? 0,
        pipelined: client.pipeline,
        batching: row !== undefined && row.version >= 130000 && row.scs === 'on',
        close: () => client.end().catch(() => undefined),
      };
    } catch (error) {
      await client.end().catch(() => undefined);
      throw this.connectionError(error);
    }
  }

  private async checkout(pool: pg.Pool): Promise<pg.PoolClient> {
    const client = await pool.connect();
    client.on('error', () => undefined);
    return client;
  }

  /**
   * Connects, creates/migrates the control schema, takes the migration
   * advisory lock on a dedicated connection, reads the history and runs `fn`;
   * always releases the lock.
   */
  private async withLockedSession(
    fn: (session: LockedSession) => Promise<MigrationResultSet>,
  ): Promise<MigrationResultSet> {
    const pool = await this.pool();
    await ensureControlSchema(pool);
    const lockClient = await this.checkout(pool).catch((error: unknown) => {
      throw this.connectionError(error);
    });
    let lost = false;
    const onError = (): void => {
      lost = true;
    };
    lockClient.on('error', onError);
    let lock: HeldLock | undefined;
    try {
      lock = await acquireMigrationLock(lockClient, {
        waitMs: this.options.lockWaitMs ?? 10_000,
        monitor: pool,
        now: this.now,
        onWait: (holders) =>
          this.emit({ type: 'lock-wait', holders, lockWaitMs: this.options.lockWaitMs ?? 10_000 }),
      });
      this.emit({ type: 'lock-acquired', waitedMs: lock.waitedMs });
      const [history, checkpoints] = await Promise.all([
        readHistory(lockClient),
        readCheckpoints(lockClient),
      ]);
      return await fn({ pool, lockClient, history, checkpoints, lockLost: () => lost });
    } finally {
      if (lock !== undefined && !lost) {
        const released = await lock.release().catch(() => false);
        if (!released) {
          this.emit({
            type: 'warning',
            message:
              'The migration lock was not held by its connection any more when released: a transaction-mode connection pooler (PgBouncer) may sit in between. Use a direct or session-pooled connection for migrations.',
          });
        }
      }
      lockClient.off('error', onError);
      lockClient.release(lost);
    }
  }

  private async loadMigrations(): Promise<Migration[]> {
    const source = this.options.migrations;
    if (source !== undefined) return typeof source === 'function' ? source() : [...source];
    const dir = this.dir as string;
    return loadMigrations(
      dir,
      this.options.layout === undefined ? {} : { layout: this.options.layout },
    );
  }

  private layout(migrations: readonly Migration[]): MigrationLayout | undefined {
    return this.options.layout ?? migrations[0]?.layout;
  }

  private pool(): Promise<pg.Pool> {
    if (this.options.pool !== undefined) return Promise.resolve(this.options.pool);
    this.ownPool ??= connect(this.options.databaseUrl as string, {
      max: 4,
      applicationName: this.options.applicationName ?? 'cutover migrate',
    });
    const pending = this.ownPool;
    pending.catch(() => {
      if (this.ownPool === pending) this.ownPool = undefined;
    });
    return pending;
  }

  private appliedBy(): string {
    if (this.options.appliedBy !== undefined) return this.options.appliedBy;
    try {
      return userInfo().username;
    } catch {
      return process.env.USER ?? 'unknown';
    }
  }

  private emit(event: MigrateEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A listener's failure must not break a migration.
    }
  }

  private display(file: string): string {
    const rel = relative(this.cwd, file);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
  }

  private location(file: string, line?: number, column?: number): string {
    const shown = this.display(file);
    if (line === undefined) return shown;
    return column === undefined ? `${shown}:${line}` : `${shown}:${line}:${column}`;
  }

  private connectionError(error: unknown): unknown {
    if (isCutoverError(error)) return error;
    const url = this.options.databaseUrl;
    return toConnectionError(error, url === undefined ? 'the database' : redactDatabaseUrl(url));
  }

  /** Runs `fn`, turning any thrown error into `{ results: [], error }`. */
  private async guard(fn: () => Promise<MigrationResultSet>): Promise<MigrationResultSet> {
    let captured: MigrationResultSet | undefined;
    const error = await this.guardError(async () => {
      captured = await fn();
    });
    return error === undefined
      ? (captured ?? { results: [] })
      : { results: captured?.results ?? [], error };
  }

  private async guardError(fn: () => Promise<void>): Promise<CutoverError | undefined> {
    try {
      await fn();
      return undefined;
    } catch (error) {
      return this.asCutoverError(error);
    }
  }

  private asCutoverError(error: unknown): CutoverError {
    const mapped = this.connectionError(error);
    if (mapped instanceof CutoverError) return mapped;
    if (isCutoverError(mapped)) {
      return new CutoverError(mapped.code, mapped.category, mapped.message, {
        ...(mapped.location === undefined ? {} : { location: mapped.location }),
        ...(mapped.hint === undefined ? {} : { hint: mapped.hint }),
        ...(mapped.details === undefined ? {} : { details: mapped.details }),
        cause: mapped,
      });
    }
    if (isConnectionError(error)) {
      return new CutoverError(
        'DATABASE_CONNECTION_LOST',
        'unavailable',
        `The database connection was lost: ${String(error)}.`,
        { cause: error },
      );
    }
    return new CutoverError(
      'MIGRATE_INTERNAL_ERROR',
      'failed',
      `Unexpected error in the migrator: ${error instanceof Error ? error.message : String(error)}.`,
      { hint: 'Run with CUTOVER_DEBUG=1 for the stack trace and report it.', cause: error },
    );
  }
}

interface LockedSession {
  pool: pg.Pool;
  lockClient: pg.PoolClient;
  history: HistoryEntry[];
  checkpoints: CheckpointEntry[];
  lockLost: () => boolean;
}

function pendingResult(
  migration: Migration,
  direction: 'up' | 'down',
  step?: PreparedStep,
): MigrationResult {
  const script = direction === 'up' ? migration.up : migration.down;
  const reason = step?.nonTransactionalReason ?? script?.nonTransactionalReason;
  return {
    version: migration.version,
    name: migration.name,
    kind: migration.kind,
    direction,
    status: 'pending',
    durationMs: 0,
    transactional: step?.transactional ?? script?.transactional ?? true,
    ...(reason === undefined ? {} : { nonTransactionalReason: reason }),
    file: step?.file ?? script?.file ?? migration.files[0] ?? '',
    attempts: 0,
  };
}

function refused(results: MigrationResult[], error: CutoverError | undefined): MigrationResultSet {
  return error === undefined ? { results } : { results, error };
}
