import { createHash } from 'node:crypto';
import type pg from 'pg';
import { isConnectionError, isDatabaseError } from '../db/index.js';
import { CutoverError } from '../errors/index.js';
import { backoffDelay } from '../retry/index.js';
import { BlockerWatch, describeBlockers } from './blocking-sessions.js';
import { migrationKey, type CheckpointEntry } from './history.js';
import { concurrentIndexTarget, findInvalidIndex } from './invalid-index.js';
import {
  buildBatchScript,
  readCommittedPrefix,
  SESSION_CHECK_SQL,
  sendBatch,
  locateBatchPosition,
  type BatchScript,
  type CommittedStep,
} from './migration-batch.js';
import type { SqlStatement } from './migration.js';
import { describeMigration } from './migration-status.js';
import type { BlockingSession, MigrateEvent, MigrationResult } from './migrator-types.js';
import type { PreparedStep } from './prepared-step.js';
import { mapServerErrorPosition } from './source-functions.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** SQLSTATEs retried with backoff: lock_not_available (lock_timeout), deadlock_detected. */
const RETRYABLE = new Set(['55P03', '40P01']);

/** Settings and collaborators of a {@link MigrationExecutor}. */
export interface ExecutorOptions {
  /** `lock_timeout` of every statement, ms (0 = none). */
  lockTimeoutMs: number;
  /** `statement_timeout` of every statement, ms (0 = none). */
  statementTimeoutMs: number;
  /** Retries after a lock timeout or deadlock. */
  lockRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  appliedBy: string;
  runId: string | null;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  onEvent: (event: MigrateEvent) => void;
  /** `file:line:column` for messages (paths shown relative to the working directory). */
  location: (file: string, line?: number, column?: number) => string;
  /** A monitoring connection (not the executing one) to look up blocking sessions. */
  monitor: () => Promise<Queryable>;
  /** A fresh connection for TypeScript migrations (released after each). */
  checkoutClient: () => Promise<pg.PoolClient>;
}

/** The connection SQL migrations run on, with its backend pid. */
export interface ExecutionConnection {
  client: pg.Client | pg.PoolClient;
  pid: number;
  /** True when the client sends queued queries without waiting (pg's `pipeline` mode). */
  pipelined: boolean;
  /**
   * True when migrations may be sent in batches ({@link MigrationExecutor.runBatch}):
   * the server is PostgreSQL 13 or later (statement_timeout applies to each
   * statement of a multi-statement message) with `standard_conforming_strings`
   * on (so the server splits the message exactly as cutover's parser did).
   */
  batching: boolean;
}

/**
 * How a batch stopped before its migration `index` completed (the ones
 * before it are committed and were reported through `onDone`).
 */
export interface BatchStop {
  /** Index in the batch of the migration that did not complete. */
  index: number;
  error: unknown;
  /**
   * The failing statement of that migration (0-based) and the error position
   * within that statement's text (1-based characters), when the failure was
   * in one of its own statements.
   */
  statement?: { index: number; position?: number };
  /** Blocking sessions seen while the batch ran. */
  blockers: BlockingSession[];
  /**
   * Nothing of the batch ran: the server refused the whole message (it parses
   * all of it first, e.g. a syntax its version does not know). Its migrations
   * then run one by one, which reports the failure exactly.
   */
  ranNothing: boolean;
  /** Its `migration-start` event was already emitted (progress of a long batch). */
  startEmitted: boolean;
  /** About how long the failed attempt took, ms. */
  elapsedMs: number;
}

/** A long batch reports progress (from the history, on the monitor connection) after this long, ms. */
const PROGRESS_AFTER_MS = 1000;

type Outcome = { ok: true; result: pg.QueryResult } | { ok: false; error: unknown; sent: boolean };

/**
 * Runs prepared migration steps, one at a time ({@link run}) or several
 * transactional SQL ones in one message ({@link runBatch}); the
 * {@link Migrator} holds the advisory lock around it. Never throws for a
 * migration failure: the returned {@link MigrationResult} carries the error.
 *
 * Transactional SQL: `BEGIN; SET LOCAL lock_timeout; SET LOCAL
 * statement_timeout`, each statement as its own query (so an error names its
 * statement and maps to file:line:column), the history write and `COMMIT`,
 * all queued at once on a pipelined connection: one network round trip per
 * migration. A failing statement aborts the transaction and the queued
 * `COMMIT` becomes a rollback, so nothing of it stays.
 *
 * Non-transactional SQL: statement by statement in autocommit with
 * session-level timeouts, a checkpoint row after each, resuming after an
 * earlier failure; before a `CREATE INDEX CONCURRENTLY` an INVALID index of
 * that name (left by a failed build) is dropped with `DROP INDEX CONCURRENTLY`.
 *
 * Lock timeouts (55P03) and deadlocks (40P01) are retried up to
 * `lockRetries` times with exponential backoff and jitter; the sessions that
 * blocked the statement are captured while it waits.
 */
export class MigrationExecutor {
  /** The current step may commit without waiting for the WAL flush (a later commit flushes it). */
  private deferFlush = false;
  /** Whether the session still lexes SQL as cutover's parser does (see `SESSION_CHECK_SQL`). */
  private sessionLexesLikeParser: boolean;

  constructor(
    private readonly connection: ExecutionConnection,
    private readonly options: ExecutorOptions,
  ) {
    this.sessionLexesLikeParser = connection.batching;
  }

  /**
   * Whether the next migrations may go in a batch: the server allows it (see
   * {@link ExecutionConnection.batching}) and no migration has changed how
   * the session lexes SQL (checked at the end of every batch; a batch that
   * stopped early counts as a change, to be safe).
   */
  get canBatch(): boolean {
    return this.sessionLexesLikeParser;
  }

  /** Runs one step; `checkpoint` is the stored checkpoint of this step, if any. */
  async run(
    step: PreparedStep,
    checkpoint: CheckpointEntry | undefined,
    options: {
      deferFlush?: boolean;
      /** The step's first attempt already ran in a batch and failed like this. */
      after?: BatchStop;
    } = {},
  ): Promise<MigrationResult> {
    this.deferFlush = options.deferFlush === true;
    const after = options.after?.ranNothing === true ? undefined : options.after;
    const started = this.options.now() - (after?.elapsedMs ?? 0);
    const m = step.migration;
    const result: MigrationResult = {
      version: m.version,
      name: m.name,
      kind: m.kind,
      direction: step.direction,
      status: 'failed',
      durationMs: 0,
      transactional: step.transactional,
      ...(step.nonTransactionalReason === undefined
        ? {}
        : { nonTransactionalReason: step.nonTransactionalReason }),
      file: step.file,
      attempts: 0,
    };
    if (options.after?.startEmitted !== true) this.emitStart(step);
    try {
      if (step.sql !== undefined && step.transactional) {
        await this.runTransactionalSql(step, step.sql.statements, result, after);
      } else if (step.sql !== undefined) {
        await this.runStatementByStatement(step, step.sql.statements, checkpoint, result);
      } else {
        await this.runTypeScript(step, result);
      }
      result.status = step.direction === 'up' ? 'applied' : 'reverted';
    } catch (error) {
      result.status = 'failed';
      result.error = this.toError(error, step);
    }
    result.durationMs = Math.max(0, this.options.now() - started);
    return result;
  }

  private emitStart(step: PreparedStep): void {
    const m = step.migration;
    this.options.onEvent({
      type: 'migration-start',
      version: m.version,
      name: m.name,
      direction: step.direction,
      transactional: step.transactional,
      ...(step.nonTransactionalReason === undefined
        ? {}
        : { nonTransactionalReason: step.nonTransactionalReason }),
      file: step.file,
    });
  }

  // ---------------------------------------------------------------- batches

  /**
   * Runs consecutive transactional up migrations in SQL (see `isBatchable`)
   * as ONE simple-query message: per migration `BEGIN; SET LOCAL
   * lock_timeout; SET LOCAL statement_timeout; …; its statements; the history
   * write; COMMIT` (see `buildBatchScript`). Each migration still commits in
   * its own transaction; PostgreSQL skips the rest of a message after an
   * error ("Multiple Statements in a Simple Query" in the protocol docs), so
   * a failing migration rolls back and no later one runs.
   *
   * `onDone` is called for every migration that committed, in order (with
   * its `migration-start` event emitted just before): when the batch ends,
   * and, for a batch that runs longer than a second, as the history shows
   * them committed. Returns undefined when all committed, else how it
   * stopped: the caller runs that migration again on its own with
   * {@link run} (`after`), which retries a lock timeout with backoff or
   * reports the failure at its `file:line:column` — the failed attempt left
   * nothing behind. Never throws.
   */
  async runBatch(
    steps: readonly PreparedStep[],
    deferFlush: readonly boolean[],
    onDone: (index: number, result: MigrationResult) => void,
  ): Promise<BatchStop | undefined> {
    const script = buildBatchScript(steps, {
      lockTimeoutMs: this.options.lockTimeoutMs,
      statementTimeoutMs: this.options.statementTimeoutMs,
      appliedBy: this.options.appliedBy,
      runId: this.options.runId,
      deferFlush,
    });
    const started = this.options.now();
    let done = 0;
    let startedStep = -1;
    let closed = false;
    const complete = (committed: readonly CommittedStep[]): void => {
      for (; done < committed.length && done < steps.length; done++) {
        const step = steps[done] as PreparedStep;
        if (startedStep < done) this.emitStart(step);
        onDone(done, batchResult(step, (committed[done] as CommittedStep).executionMs));
      }
    };
    const blockers =
      this.options.lockTimeoutMs > 0
        ? new BlockerWatch(
            this.options.monitor,
            this.connection.pid,
            Math.max(20, Math.min(500, Math.floor(this.options.lockTimeoutMs / 4))),
          ).start()
        : undefined;
    const progress = new Poller(PROGRESS_AFTER_MS, async () => {
      const committed = await readCommittedPrefix(await this.options.monitor(), steps);
      if (closed) return;
      complete(committed);
      if (done < steps.length && startedStep < done) {
        this.emitStart(steps[done] as PreparedStep);
        startedStep = done;
      }
    });
    const sent = sendBatch(this.connection.client, script.text);
    let outcome: { ok: true; results: pg.QueryResult[] } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, results: await sent.done };
    } catch (error) {
      outcome = { ok: false, error };
    }
    await progress.stop();
    closed = true;
    const seen = (await blockers?.stop()) ?? [];
    const elapsed = Math.max(0, this.options.now() - started);
    // Until a batch ends normally, the session's settings are unknown.
    this.sessionLexesLikeParser = false;
    let unexpected = false;
    if (outcome.ok) {
      const committed = committedFromResults(script, outcome.results);
      if (committed !== undefined) {
        const check = outcome.results.at(-1)?.rows[0] as { ok?: unknown } | undefined;
        this.sessionLexesLikeParser = check?.ok === true;
        complete(committed);
        return undefined;
      }
      // Not what the script should give (a transaction that did not commit):
      // only the history says what committed.
      unexpected = true;
      outcome = {
        ok: false,
        error: new Error('the batch ended with another result than COMMIT for a migration'),
      };
    }
    const error = outcome.error;
    const completed = unexpected ? 0 : sent.query.completed;
    const lost = isConnectionError(error);
    // Migrations whose COMMIT completed are committed; after a lost
    // connection the history may show more (their acknowledgement was lost).
    const committedCount = script.parts
      .slice(0, completed)
      .filter((p) => p.kind === 'commit').length;
    let committed: CommittedStep[] | undefined;
    if (lost) {
      committed = await readCommittedPrefix(await this.options.monitor(), steps).catch(
        () => undefined,
      );
    } else {
      const client = this.connection.client;
      await client.query('rollback').catch(() => undefined);
      committed = await readCommittedPrefix(client, steps).catch(() => undefined);
      const check = await client.query<{ ok: boolean }>(SESSION_CHECK_SQL).catch(() => undefined);
      this.sessionLexesLikeParser = check?.rows[0]?.ok === true;
    }
    const count = Math.max(committedCount, committed?.length ?? 0);
    const durations = steps.slice(0, count).map((_, k) => committed?.[k] ?? { executionMs: 0 });
    complete(durations);
    if (count >= steps.length) return undefined;
    const part = lost || unexpected ? undefined : script.parts[completed];
    const doneMs = durations.reduce((sum, d) => sum + d.executionMs, 0);
    return {
      index: count,
      error,
      ...(part?.kind === 'statement' && part.step === count && part.statementIndex !== undefined
        ? { statement: failingStatement(script, completed, part.statementIndex, error) }
        : {}),
      blockers: seen,
      ranNothing: completed === 0 && !lost && !unexpected,
      startEmitted: startedStep === count,
      elapsedMs: Math.max(0, elapsed - doneMs),
    };
  }

  // ---------------------------------------------------------------- transactional SQL

  private async runTransactionalSql(
    step: PreparedStep,
    statements: SqlStatement[],
    result: MigrationResult,
    after?: BatchStop,
  ): Promise<void> {
    const history = this.historyQuery(step);
    let first: { error: unknown; blockers: BlockingSession[] } | undefined;
    if (after !== undefined) {
      const failed = after.statement;
      const error =
        failed === undefined
          ? after.error
          : new StatementFailure(
              after.error,
              statements[failed.index] as SqlStatement,
              failed.index,
              failed.position,
            );
      const code = sqlState(after.error);
      if (code === undefined || !RETRYABLE.has(code)) {
        result.attempts = 1;
        throw error;
      }
      first = { error, blockers: after.blockers };
    }
    await this.withRetries(
      step,
      result,
      async () => {
        const queries: (string | pg.QueryConfig)[] = [
          this.beginSql(),
          ...statements.map((s) => s.sql),
          history,
          'commit',
        ];
        const outcomes = await this.send(queries);
        const failedAt = outcomes.findIndex((o) => !o.ok);
        if (failedAt === -1) {
          const commit = outcomes.at(-1);
          if (commit?.ok === true && commit.result.command !== 'COMMIT') {
            throw new Error(
              `the transaction ended with ${commit.result.command} instead of COMMIT`,
            );
          }
          return;
        }
        const failed = outcomes[failedAt] as Extract<Outcome, { ok: false }>;
        if (!failed.sent) {
          // Sequential client: make sure the transaction is closed.
          await this.connection.client.query('rollback').catch(() => undefined);
        }
        if (failedAt >= 1 && failedAt <= statements.length) {
          throw new StatementFailure(
            failed.error,
            statements[failedAt - 1] as SqlStatement,
            failedAt - 1,
          );
        }
        throw failed.error;
      },
      undefined,
      first,
    );
  }

  /**
   * Sends `queries` on the execution connection. Pipelined: all at once, and
   * every outcome is awaited. Sequential: one by one, stopping at the first
   * failure (the rest are reported as not sent).
   */
  private async send(queries: (string | pg.QueryConfig)[]): Promise<Outcome[]> {
    const client = this.connection.client;
    if (this.connection.pipelined) {
      const settled = await Promise.allSettled(
        queries.map((q) => (typeof q === 'string' ? client.query(q) : client.query(q))),
      );
      return settled.map((s) =>
        s.status === 'fulfilled'
          ? { ok: true, result: lastResult(s.value) }
          : { ok: false, error: s.reason as unknown, sent: true },
      );
    }
    const outcomes: Outcome[] = [];
    for (const q of queries) {
      try {
        const r: pg.QueryResult | pg.QueryResult[] =
          typeof q === 'string' ? await client.query(q) : await client.query(q);
        outcomes.push({ ok: true, result: lastResult(r) });
      } catch (error) {
        outcomes.push({ ok: false, error, sent: false });
        break;
      }
    }
    return outcomes;
  }

  // ---------------------------------------------------------------- non-transactional SQL

  private async runStatementByStatement(
    step: PreparedStep,
    statements: SqlStatement[],
    checkpoint: CheckpointEntry | undefined,
    result: MigrationResult,
  ): Promise<void> {
    const m = step.migration;
    const key = migrationKey(m.version, m.name);
    const client = this.connection.client;
    const runStarted = this.options.now();
    let start = 0;
    if (checkpoint !== undefined) {
      start = checkpoint.statementsDone;
      result.resumedAtStatement = start;
      this.options.onEvent({
        type: 'migration-resume',
        version: m.version,
        name: m.name,
        direction: step.direction,
        statementIndex: start,
        statementCount: statements.length,
      });
    }
    await client.query(
      `set lock_timeout = ${this.options.lockTimeoutMs}; set statement_timeout = ${this.options.statementTimeoutMs}`,
    );
    try {
      for (let i = start; i < statements.length; i++) {
        const statement = statements[i] as SqlStatement;
        this.options.onEvent({
          type: 'statement-start',
          version: m.version,
          name: m.name,
          index: i,
          count: statements.length,
          location: this.options.location(step.file, statement.line, statement.column),
        });
        const target = await concurrentIndexTarget(statement.sql);
        try {
          await this.withRetries(step, result, async () => {
            if (target !== undefined) {
              const invalid = await findInvalidIndex(client, target);
              if (invalid !== undefined) {
                if (invalid.buildingPid !== null) {
                  throw new CutoverError(
                    'INDEX_BUILD_IN_PROGRESS',
                    'busy',
                    `Index ${invalid.qualifiedName} is being built right now by backend pid ${invalid.buildingPid}.`,
                    {
                      location: this.options.location(step.file, statement.line, statement.column),
                      hint: 'Wait for that build to finish (or cancel it with pg_cancel_backend) and run the command again.',
                    },
                  );
                }
                await client.query(`drop index concurrently if exists ${invalid.qualifiedName}`);
                result.droppedInvalidIndexes = [
                  ...(result.droppedInvalidIndexes ?? []),
                  invalid.qualifiedName,
                ];
                this.options.onEvent({
                  type: 'invalid-index-dropped',
                  version: m.version,
                  name: m.name,
                  index: invalid.qualifiedName,
                });
              }
            }
            try {
              await client.query(statement.sql);
            } catch (error) {
              throw new StatementFailure(error, statement, i);
            }
          });
        } catch (error) {
          if (i > 0) {
            await this.saveCheckpoint(
              step,
              key,
              i,
              hashStatements(statements, i),
              errorText(error),
            ).catch(() => undefined);
          }
          const leftInvalid =
            target !== undefined && !isConnectionError(error)
              ? await findInvalidIndex(client, target).catch(() => undefined)
              : undefined;
          throw new PartialFailure(error, i, statements.length, leftInvalid?.qualifiedName);
        }
        // Also after the last statement: a crash before the history write then
        // resumes by just recording it, instead of running that statement again.
        await this.saveCheckpoint(step, key, i + 1, hashStatements(statements, i + 1), null);
      }
      // All statements done: record the history and drop the checkpoint atomically.
      const outcomes = await this.send([
        'begin',
        this.historyQuery(step, this.options.now() - runStarted),
        {
          text: 'delete from cutover.migration_checkpoints where migration_key = $1 and direction = $2',
          values: [key, step.direction],
        },
        'commit',
      ]);
      const failed = outcomes.find((o) => !o.ok);
      if (failed !== undefined && !failed.ok) {
        await client.query('rollback').catch(() => undefined);
        // Every statement ran: a checkpoint at the end lets the next run just record it.
        await this.saveCheckpoint(
          step,
          key,
          statements.length,
          hashStatements(statements, statements.length),
          errorText(failed.error),
        ).catch(() => undefined);
        throw new PartialFailure(failed.error, statements.length, statements.length);
      }
      if (result.attempts === 0) result.attempts = 1;
    } finally {
      await client.query('reset lock_timeout; reset statement_timeout').catch(() => undefined);
    }
  }

  private async saveCheckpoint(
    step: PreparedStep,
    key: string,
    done: number,
    hash: string,
    lastError: string | null,
  ): Promise<void> {
    await this.connection.client.query(
      `insert into cutover.migration_checkpoints
         (migration_key, direction, name, statements_done, done_hash, last_error, run_id, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())
       on conflict (migration_key, direction) do update set
         statements_done = excluded.statements_done, done_hash = excluded.done_hash,
         last_error = excluded.last_error, run_id = excluded.run_id, updated_at = excluded.updated_at`,
      [key, step.direction, step.migration.name, done, hash, lastError, this.options.runId],
    );
  }

  // ---------------------------------------------------------------- TypeScript

  private async runTypeScript(step: PreparedStep, result: MigrationResult): Promise<void> {
    const run = step.run;
    if (run === undefined) throw new Error('prepared step has neither SQL nor a function');
    const client = await this.options.checkoutClient();
    let broken = false;
    try {
      const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
      const pid = rows[0]?.pid ?? 0;
      await this.withRetries(
        step,
        result,
        async () => {
          if (step.transactional) {
            await client.query(this.beginSql());
            try {
              await run(client);
              await client.query(this.historyQuery(step));
              await client.query('commit');
            } catch (error) {
              await client.query('rollback').catch(() => undefined);
              throw error;
            }
          } else {
            await client.query(
              `set lock_timeout = ${this.options.lockTimeoutMs}; set statement_timeout = ${this.options.statementTimeoutMs}`,
            );
            try {
              const ranFrom = this.options.now();
              await run(client);
              await client.query(this.historyQuery(step, this.options.now() - ranFrom));
            } finally {
              await client
                .query('reset lock_timeout; reset statement_timeout')
                .catch(() => undefined);
            }
          }
        },
        pid,
      );
    } catch (error) {
      broken = isConnectionError(error);
      throw error;
    } finally {
      client.release(broken);
    }
  }

  // ---------------------------------------------------------------- shared

  /**
   * BEGIN with the migration's settings. When the flush is deferred, the
   * commit does not wait for its WAL to reach disk (`synchronous_commit =
   * off`): the migration is still atomic and commits on its own, and the run's
   * last commit (or {@link flushWal}) waits for the WAL flush, which covers
   * every earlier commit since WAL is flushed in order.
   */
  private beginSql(): string {
    const sync = this.deferFlush ? '; set local synchronous_commit = off' : '';
    return `begin; set local lock_timeout = ${this.options.lockTimeoutMs}; set local statement_timeout = ${this.options.statementTimeoutMs}${sync}`;
  }

  /**
   * Waits until every commit made so far is flushed to disk: commits a
   * transaction that has a transaction id with the session's
   * `synchronous_commit` (on by default). Called when a run stops early.
   */
  async flushWal(): Promise<void> {
    await this.connection.client.query('begin; select txid_current(); commit');
  }

  /**
   * The history write of a step, as one parameterized query. Without
   * `executionMs`, the server measures it: `now()` is the start of the
   * migration's transaction, so `clock_timestamp() - now()` is its duration.
   */
  private historyQuery(step: PreparedStep, executionMs?: number): pg.QueryConfig {
    const m = step.migration;
    // Named statements: parsed and planned once per connection, then only bound.
    const measured = executionMs !== undefined;
    const elapsed = (n: number): string =>
      measured
        ? `$${n}::int`
        : `greatest(0, round(extract(epoch from clock_timestamp() - now()) * 1000))::int`;
    const ms = measured ? [Math.max(0, Math.round(executionMs))] : [];
    switch (step.history.type) {
      case 'insert-versioned':
        return {
          name: `cutover_history_insert_${measured ? 'c' : 's'}`,
          text: `insert into cutover.schema_migrations
                   (version, name, kind, checksum, applied_by, run_id, execution_ms)
                 values ($1, $2, 'versioned', $3, $4, $5, ${elapsed(6)})`,
          values: [
            step.history.version,
            m.name,
            m.checksum,
            this.options.appliedBy,
            this.options.runId,
            ...ms,
          ],
        };
      case 'upsert-repeatable':
        return {
          name: `cutover_history_repeatable_${measured ? 'c' : 's'}`,
          text: `insert into cutover.schema_migrations
                   (version, name, kind, checksum, applied_by, run_id, execution_ms)
                 values (null, $1, 'repeatable', $2, $3, $4, ${elapsed(5)})
                 on conflict (name) where kind = 'repeatable' do update set
                   checksum = excluded.checksum, applied_at = excluded.applied_at,
                   execution_ms = excluded.execution_ms, applied_by = excluded.applied_by,
                   run_id = excluded.run_id, source = 'cutover'`,
          values: [m.name, m.checksum, this.options.appliedBy, this.options.runId, ...ms],
        };
      case 'delete-versioned':
        return {
          name: 'cutover_history_delete',
          text: `delete from cutover.schema_migrations where version = $1 and kind = 'versioned'`,
          values: [step.history.version],
        };
    }
  }

  /**
   * Runs `attempt` and retries it after a lock timeout or deadlock, with
   * backoff, up to `lockRetries` times, watching for blocking sessions while
   * it runs.
   */
  private async withRetries(
    step: PreparedStep,
    result: MigrationResult,
    attempt: () => Promise<void>,
    pid = this.connection.pid,
    /** The first attempt already ran (in a batch) and failed like this. */
    first?: { error: unknown; blockers: BlockingSession[] },
  ): Promise<void> {
    const m = step.migration;
    for (let retry = 0; ; retry++) {
      result.attempts += 1;
      let blockers: BlockingSession[] = [];
      let failure: unknown;
      if (retry === 0 && first !== undefined) {
        failure = first.error;
        blockers = first.blockers;
      } else {
        const watch =
          this.options.lockTimeoutMs > 0
            ? new BlockerWatch(
                this.options.monitor,
                pid,
                Math.max(20, Math.min(500, Math.floor(this.options.lockTimeoutMs / 4))),
              ).start()
            : undefined;
        try {
          await attempt();
          await watch?.stop();
          return;
        } catch (error) {
          failure = error;
          blockers = (await watch?.stop()) ?? [];
        }
      }
      const code = sqlState(failure);
      if (code === undefined || !RETRYABLE.has(code)) throw failure;
      if (retry >= this.options.lockRetries)
        throw new LockTimeoutFailure(failure, blockers, retry + 1);
      const delayMs = backoffDelay(retry, {
        baseMs: this.options.retryBaseDelayMs,
        maxMs: this.options.retryMaxDelayMs,
        random: this.options.random,
      });
      this.options.onEvent({
        type: 'lock-timeout-retry',
        version: m.version,
        name: m.name,
        retry: retry + 1,
        maxRetries: this.options.lockRetries,
        delayMs,
        blockers,
      });
      await this.options.sleep(delayMs);
    }
  }

  /** Maps any failure of a step to one CutoverError with location and hint. */
  private toError(error: unknown, step: PreparedStep): CutoverError {
    const m = step.migration;
    const what = describeMigration(m.version, m.name);
    const verb = step.direction === 'up' ? 'Migration' : 'Reverting migration';
    let partial: PartialFailure | undefined;
    if (error instanceof PartialFailure) {
      partial = error;
      error = error.cause;
    }
    const lockFailure = error instanceof LockTimeoutFailure ? error : undefined;
    if (lockFailure !== undefined) error = lockFailure.cause;
    const statementFailure = error instanceof StatementFailure ? error : undefined;
    if (statementFailure !== undefined) error = statementFailure.cause;
    if (error instanceof CutoverError) return error;

    const aftermath =
      partial === undefined
        ? step.transactional
          ? 'it was rolled back, nothing of it was applied'
          : 'it runs outside a transaction and may have applied part of its work'
        : partial.index === 0
          ? 'it runs outside a transaction; its first statement failed, nothing of it was applied'
          : `it runs outside a transaction; statements 1–${partial.index} of ${partial.count} stay applied and are recorded in a checkpoint`;
    const resume =
      (partial !== undefined && partial.index > 0
        ? `, then run the command again: it resumes at statement ${partial.index + 1}.`
        : ', then run the command again.') +
      (partial?.invalidIndex !== undefined
        ? ` The failed build left the INVALID index ${partial.invalidIndex}; cutover drops it (DROP INDEX CONCURRENTLY) before building it again.`
        : '');

    const statement = statementFailure?.statement;
    const location = (() => {
      if (statement === undefined || step.sql === undefined)
        return this.options.location(step.file);
      const position = statementFailure?.position ?? NaN;
      if (Number.isFinite(position) && position > 0) {
        const lc = mapServerErrorPosition(statement, step.sql.fileText, position);
        return this.options.location(step.file, lc.line, lc.column);
      }
      return this.options.location(step.file, statement.line, statement.column);
    })();

    if (isConnectionError(error)) {
      return new CutoverError(
        'DATABASE_CONNECTION_LOST',
        'unavailable',
        `The database connection was lost while ${step.direction === 'up' ? 'applying' : 'reverting'} ${what} (${errorText(error)}); ${step.transactional ? 'the server rolls back its transaction, nothing of it was applied' : aftermath}.`,
        {
          location,
          hint: `Check the database server, then run the command again.${partial !== undefined && partial.index > 0 ? ` It resumes at statement ${partial.index + 1}.` : ''}`,
          cause: error,
        },
      );
    }
    const code = sqlState(error);
    if (lockFailure !== undefined) {
      const blockers = lockFailure.blockers;
      const who =
        blockers.length > 0
          ? ` Blocked by ${describeBlockers(blockers)}.`
          : ' The blocking session had already gone when cutover looked.';
      return new CutoverError(
        'MIGRATION_LOCK_TIMEOUT',
        'busy',
        `${verb} ${what} could not get its lock within lock_timeout ${this.options.lockTimeoutMs} ms after ${lockFailure.attempts} attempt${lockFailure.attempts === 1 ? '' : 's'} (SQLSTATE ${code ?? '55P03'}: ${errorText(error)}); ${aftermath}.${who}`,
        {
          location,
          hint:
            blockers.length > 0
              ? `Let the blocking transaction finish (or end it: SELECT pg_terminate_backend(${blockers[0]?.pid ?? 0})), or raise --lock-timeout / --lock-retries, then run the command again.`
              : 'Run the command again, or raise --lock-timeout / --lock-retries.',
          details: {
            version: m.version,
            name: m.name,
            sqlstate: code,
            attempts: lockFailure.attempts,
            blockers,
          },
          cause: error,
        },
      );
    }
    const serverHint = isDatabaseError(error) && error.hint ? ` Server hint: ${error.hint}` : '';
    const serverDetail = isDatabaseError(error) && error.detail ? ` (${error.detail})` : '';
    const timeoutHint =
      code === '57014' && this.options.statementTimeoutMs > 0
        ? ` The statement ran longer than statement_timeout ${this.options.statementTimeoutMs} ms; raise --statement-timeout if that is expected.`
        : '';
    return new CutoverError(
      'MIGRATION_FAILED',
      'failed',
      `${verb} ${what} failed${statementFailure !== undefined ? ` at statement ${statementFailure.index + 1}` : ''}: ${errorText(error)}${serverDetail}${code === undefined ? '' : ` (SQLSTATE ${code})`}; ${aftermath}.`,
      {
        location,
        hint: `Correct the migration (or the data it trips on)${resume}${serverHint}${timeoutHint}`,
        details: {
          version: m.version,
          name: m.name,
          direction: step.direction,
          ...(code === undefined ? {} : { sqlstate: code }),
          ...(statementFailure === undefined ? {} : { statementIndex: statementFailure.index }),
          ...(partial === undefined ? {} : { statementsDone: partial.index }),
        },
        cause: error,
      },
    );
  }
}

/** A statement of a script failed (keeps which one). */
class StatementFailure extends Error {
  /** The server's error position within the statement's text (1-based characters), or NaN. */
  readonly position: number;

  constructor(
    override readonly cause: unknown,
    readonly statement: SqlStatement,
    readonly index: number,
    /** Default: the server's `position` (the statement was sent on its own). */
    position?: number,
  ) {
    super(errorText(cause));
    this.position =
      position ?? (isDatabaseError(cause) ? Number(cause.position ?? Number.NaN) : Number.NaN);
  }
}

/** The result of a migration committed in a batch. */
function batchResult(step: PreparedStep, executionMs: number): MigrationResult {
  const m = step.migration;
  return {
    version: m.version,
    name: m.name,
    kind: m.kind,
    direction: step.direction,
    status: 'applied',
    durationMs: executionMs,
    transactional: true,
    file: step.file,
    attempts: 1,
  };
}

/**
 * Every migration's execution time from the results of a whole batch, or
 * undefined when the results do not match the script (a transaction that
 * ended with something else than COMMIT).
 */
function committedFromResults(
  script: BatchScript,
  results: readonly pg.QueryResult[],
): CommittedStep[] | undefined {
  if (results.length !== script.parts.length) return undefined;
  const committed: CommittedStep[] = [];
  for (let i = 0; i < script.parts.length; i++) {
    if (script.parts[i]?.kind === 'commit' && results[i]?.command !== 'COMMIT') return undefined;
  }
  for (const index of script.historyPart) {
    const row = results[index]?.rows[0] as { execution_ms?: unknown } | undefined;
    committed.push({ executionMs: typeof row?.execution_ms === 'number' ? row.execution_ms : 0 });
  }
  return committed;
}

/** The failing statement of a batch: its index and the error position within it. */
function failingStatement(
  script: BatchScript,
  part: number,
  statementIndex: number,
  error: unknown,
): { index: number; position?: number } {
  const position = isDatabaseError(error) ? Number(error.position ?? Number.NaN) : Number.NaN;
  const located = locateBatchPosition(script, position);
  return located !== undefined && located.part === part
    ? { index: statementIndex, position: located.position }
    : { index: statementIndex };
}

/**
 * Calls `poll` every `intervalMs`, the first time after one interval, one
 * call at a time; `stop` waits (at most 1 s) for a call in flight. Failures
 * of `poll` are ignored (progress is best effort).
 */
class Poller {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly poll: () => Promise<void>,
  ) {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const inFlight = this.inFlight;
    if (inFlight === undefined) return;
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      inFlight,
      new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, 1000);
        timeout.unref();
      }),
    ]);
    clearTimeout(timeout);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.poll()
        .catch(() => undefined)
        .finally(() => {
          this.inFlight = undefined;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }
}

/** Lock timeouts exhausted the retries. */
class LockTimeoutFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly blockers: BlockingSession[],
    readonly attempts: number,
  ) {
    super(errorText(cause));
  }
}

/** A non-transactional script stopped at statement `index` of `count`. */
class PartialFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly index: number,
    readonly count: number,
    /** An INVALID index the failed CONCURRENTLY build left behind. */
    readonly invalidIndex?: string,
  ) {
    super(errorText(cause));
  }
}

function sqlState(error: unknown): string | undefined {
  let e: unknown = error;
  while (
    e instanceof StatementFailure ||
    e instanceof LockTimeoutFailure ||
    e instanceof PartialFailure
  ) {
    e = e.cause;
  }
  return isDatabaseError(e) ? e.code : undefined;
}

function errorText(error: unknown): string {
  if (error instanceof StatementFailure || error instanceof PartialFailure)
    return errorText(error.cause);
  return error instanceof Error ? error.message : String(error);
}

function lastResult(r: pg.QueryResult | pg.QueryResult[]): pg.QueryResult {
  return Array.isArray(r) ? (r.at(-1) as pg.QueryResult) : r;
}

/** sha256 of the text of the first `count` statements: detects edits of already-run statements. */
export function hashStatements(statements: readonly SqlStatement[], count: number): string {
  const hash = createHash('sha256');
  for (let i = 0; i < count; i++) hash.update((statements[i]?.sql ?? '') + '\n;\n');
  return hash.digest('hex');
}
