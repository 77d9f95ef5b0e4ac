import pg from 'pg';
import type { SqlStatement } from './migration.js';
import type { PreparedStep } from './prepared-step.js';
import { codePointIndexToOffset } from './text-position.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** At most this many migrations go into one batch. */
export const MAX_BATCH_MIGRATIONS = 100;
/** At most this much SQL (UTF-16 code units of the migrations' statements) goes into one batch. */
export const MAX_BATCH_SQL = 64 * 1024;
/** Batches are sized to take about this long (ms), from the time per migration seen so far. */
export const BATCH_TARGET_MS = 250;
/** The size of the first batch of a run. */
export const FIRST_BATCH_SIZE = 8;

/**
 * What one statement of a batch script is: the opening of migration `step`'s
 * transaction (BEGIN and its settings), one of its own statements, its
 * history write, or its COMMIT.
 */
export interface BatchPart {
  kind: 'begin' | 'statement' | 'history' | 'commit' | 'check';
  /** Index of the migration in the batch. */
  step: number;
  /** For `statement`: index of the statement in the migration (0-based). */
  statementIndex?: number;
  /** Where the part's text starts in the batch script (JS string offset). */
  start: number;
  /** Its length (JS string units). */
  length: number;
}

/** The SQL of a batch (one simple-query message) and what each statement of it is. */
export interface BatchScript {
  text: string;
  /** One entry per statement the server runs, in order (one CommandComplete each). */
  parts: BatchPart[];
  /** Per migration of the batch: the index in `parts` of its history write. */
  historyPart: number[];
}

/**
 * The last statement of every batch: whether the session still lexes SQL as
 * cutover's parser does (a migration may have changed it with a session-level
 * SET), so the next batch may be sent. One row, column `ok`.
 */
export const SESSION_CHECK_SQL = `select current_setting('standard_conforming_strings') = 'on' and current_setting('client_encoding') = 'UTF8' as ok`;

/**
 * Settings that change how the server splits and reads SQL text. A migration
 * that mentions one of them may change it for the session, so it ends its
 * batch (the migrations after it are parsed by the server only after it ran).
 */
const LEXING_SETTINGS =
  /standard_conforming_strings|client_encoding|backslash_quote|\bset\s+names\b/i;

/** Settings of {@link buildBatchScript}. */
export interface BatchScriptOptions {
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  appliedBy: string;
  runId: string | null;
  /** Per migration of the batch: true when its commit need not wait for the WAL flush. */
  deferFlush: readonly boolean[];
}

/**
 * Whether a step can go into a batch: an up migration in SQL that runs in a
 * transaction (non-transactional and TypeScript migrations, and down
 * migrations, run on their own).
 */
export function isBatchable(step: PreparedStep): boolean {
  return (
    step.sql !== undefined &&
    step.transactional &&
    step.direction === 'up' &&
    (step.history.type === 'insert-versioned' || step.history.type === 'upsert-repeatable')
  );
}

/** The SQL size of a step in a batch (its statements). */
export function batchSqlSize(step: PreparedStep): number {
  let size = 0;
  for (const s of step.sql?.statements ?? []) size += s.sql.length + 3;
  return size;
}

/**
 * How many steps from `from` go into the next batch: consecutive batchable
 * steps, at most `limit` and {@link MAX_BATCH_MIGRATIONS}, and at most
 * {@link MAX_BATCH_SQL} of SQL (always at least one batchable step); a step
 * that mentions a setting that changes how SQL is lexed
 * (`standard_conforming_strings`, `client_encoding`, `SET NAMES`,
 * `backslash_quote`) is the last of its batch.
 */
export function batchLength(steps: readonly PreparedStep[], from: number, limit: number): number {
  const max = Math.min(limit, MAX_BATCH_MIGRATIONS);
  let size = 0;
  let count = 0;
  for (let i = from; i < steps.length && count < max; i++) {
    const step = steps[i] as PreparedStep;
    if (!isBatchable(step)) break;
    size += batchSqlSize(step);
    if (count > 0 && size > MAX_BATCH_SQL) break;
    count++;
    if (step.sql?.statements.some((s) => LEXING_SETTINGS.test(s.sql)) === true) break;
  }
  return count;
}

/** `cutover.t0`: the migration's start (epoch seconds), set right after its BEGIN. */
const START_CLOCK = `select set_config('cutover.t0', extract(epoch from clock_timestamp())::text, true)`;
/** The migration's execution time in ms, from `cutover.t0` (0 if a migration reset it). */
const ELAPSED_MS = `coalesce(greatest(0, round((extract(epoch from clock_timestamp()) - nullif(current_setting('cutover.t0', true), '')::numeric) * 1000)), 0)::int`;

/**
 * Builds the simple-query script of a batch: per migration `BEGIN; SET LOCAL
 * lock_timeout …; SET LOCAL statement_timeout …; [SET LOCAL
 * synchronous_commit = off;] SELECT set_config('cutover.t0', …)`, its
 * statements, the history write (literal values, escaped with pg's
 * `escapeLiteral`, `RETURNING execution_ms`) and `COMMIT`.
 *
 * Every statement of a migration is followed by a line break before its
 * semicolon, so a statement ending in a `--` comment cannot swallow what
 * follows. The statements are those of `splitStatements` (complete tokens:
 * no open string, comment or dollar quote at their end). The script ends with
 * {@link SESSION_CHECK_SQL}.
 */
export function buildBatchScript(
  steps: readonly PreparedStep[],
  options: BatchScriptOptions,
): BatchScript {
  const chunks: string[] = [];
  const parts: BatchPart[] = [];
  const historyPart: number[] = [];
  let at = 0;
  const add = (
    sql: string,
    part: Omit<BatchPart, 'start' | 'length'>,
    terminator: string,
  ): void => {
    parts.push({ ...part, start: at, length: sql.length });
    chunks.push(sql, terminator);
    at += sql.length + terminator.length;
  };
  steps.forEach((step, k) => {
    add('begin', { kind: 'begin', step: k }, ';\n');
    add(`set local lock_timeout = ${options.lockTimeoutMs}`, { kind: 'begin', step: k }, ';\n');
    add(
      `set local statement_timeout = ${options.statementTimeoutMs}`,
      { kind: 'begin', step: k },
      ';\n',
    );
    if (options.deferFlush[k] === true) {
      add('set local synchronous_commit = off', { kind: 'begin', step: k }, ';\n');
    }
    add(START_CLOCK, { kind: 'begin', step: k }, ';\n');
    (step.sql?.statements ?? []).forEach((statement: SqlStatement, i) => {
      add(statement.sql, { kind: 'statement', step: k, statementIndex: i }, '\n;\n');
    });
    historyPart.push(parts.length);
    add(historySql(step, options), { kind: 'history', step: k }, ';\n');
    add('commit', { kind: 'commit', step: k }, ';\n');
  });
  add(SESSION_CHECK_SQL, { kind: 'check', step: steps.length - 1 }, ';\n');
  return { text: chunks.join(''), parts, historyPart };
}

function historySql(step: PreparedStep, options: BatchScriptOptions): string {
  const lit = (value: string | null): string => (value === null ? 'null' : pg.escapeLiteral(value));
  const m = step.migration;
  switch (step.history.type) {
    case 'insert-versioned':
      return `insert into cutover.schema_migrations (version, name, kind, checksum, applied_by, run_id, execution_ms) values (${lit(step.history.version)}, ${lit(m.name)}, 'versioned', ${lit(m.checksum)}, ${lit(options.appliedBy)}, ${lit(options.runId)}, ${ELAPSED_MS}) returning execution_ms`;
    case 'upsert-repeatable':
      return `insert into cutover.schema_migrations (version, name, kind, checksum, applied_by, run_id, execution_ms) values (null, ${lit(m.name)}, 'repeatable', ${lit(m.checksum)}, ${lit(options.appliedBy)}, ${lit(options.runId)}, ${ELAPSED_MS}) on conflict (name) where kind = 'repeatable' do update set checksum = excluded.checksum, applied_at = excluded.applied_at, execution_ms = excluded.execution_ms, applied_by = excluded.applied_by, run_id = excluded.run_id, source = 'cutover' returning execution_ms`;
    case 'delete-versioned':
      throw new Error('down migrations are not batched');
  }
}

/**
 * Where a server error position (1-based, in characters of the whole batch
 * script, as PostgreSQL reports it for a simple query) falls: the index of
 * the part and the 1-based character position within that part's text.
 * Undefined when it falls between parts or is not a position.
 */
export function locateBatchPosition(
  script: BatchScript,
  position: number,
): { part: number; position: number } | undefined {
  if (!Number.isFinite(position) || position < 1) return undefined;
  const offset = codePointIndexToOffset(script.text, position - 1);
  for (let i = 0; i < script.parts.length; i++) {
    const part = script.parts[i] as BatchPart;
    if (offset >= part.start && offset <= part.start + part.length) {
      const before = script.text.slice(part.start, offset);
      return { part: i, position: [...before].length + 1 };
    }
  }
  return undefined;
}

/**
 * A simple-query message that counts the statements the server completed
 * (its CommandComplete messages), so that when the message stops at an error
 * the failing statement is known: the one after the last completed.
 *
 * Builds on pg's Submittable protocol: pg calls `handleCommandComplete` on
 * the active query for every CommandComplete message.
 */
export class CountedQuery extends pg.Query {
  /** Statements the server completed so far. */
  completed = 0;

  handleCommandComplete(message: unknown, connection: unknown): void {
    this.completed += 1;
    baseHandleCommandComplete.call(this, message, connection);
  }
}

/** pg's own handler, which the counting one calls on. */
const baseHandleCommandComplete = (
  pg.Query.prototype as unknown as {
    handleCommandComplete: (this: pg.Query, message: unknown, connection: unknown) => void;
  }
).handleCommandComplete;

/**
 * Sends `text` as one simple-query message on `client`. `done` resolves with
 * every statement's result (in order) or rejects with the first error; then
 * `query.completed` says how many statements finished before it.
 */
export function sendBatch(
  client: pg.ClientBase,
  text: string,
): { query: CountedQuery; done: Promise<pg.QueryResult[]> } {
  let resolve!: (value: pg.QueryResult[]) => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<pg.QueryResult[]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const query = new CountedQuery(text, (error: Error | undefined, result: unknown) => {
    if (error !== undefined && error !== null) reject(error);
    else resolve(Array.isArray(result) ? (result as pg.QueryResult[]) : [result as pg.QueryResult]);
  });
  void client.query(query);
  return { query, done };
}

/** One migration of a batch seen committed in the history: its execution time. */
export interface CommittedStep {
  executionMs: number;
}

/**
 * Which migrations of a batch are committed, read from the history (on
 * another connection): the longest prefix of `steps` whose history write is
 * visible, with each one's recorded execution time. Used to report progress
 * while a long batch runs and, after a lost connection, to learn what
 * committed although its acknowledgement never arrived.
 */
export async function readCommittedPrefix(
  db: Queryable,
  steps: readonly PreparedStep[],
): Promise<CommittedStep[]> {
  const versions: string[] = [];
  const names: string[] = [];
  for (const s of steps) {
    if (s.history.type === 'insert-versioned') versions.push(s.history.version);
    else names.push(s.migration.name);
  }
  const { rows } = await db.query<{
    version: string | null;
    name: string;
    checksum: string | null;
    execution_ms: number;
  }>(
    `select version, name, checksum, execution_ms from cutover.schema_migrations
      where (kind = 'versioned' and version = any($1::text[]))
         or (kind = 'repeatable' and name = any($2::text[]))`,
    [versions, names],
  );
  const byVersion = new Map<string, number>();
  const byName = new Map<string, { checksum: string | null; ms: number }>();
  for (const r of rows) {
    if (r.version !== null) byVersion.set(r.version, r.execution_ms);
    else byName.set(r.name, { checksum: r.checksum, ms: r.execution_ms });
  }
  const committed: CommittedStep[] = [];
  for (const s of steps) {
    let ms: number | undefined;
    if (s.history.type === 'insert-versioned') ms = byVersion.get(s.history.version);
    else {
      const row = byName.get(s.migration.name);
      ms = row !== undefined && row.checksum === s.migration.checksum ? row.ms : undefined;
    }
    if (ms === undefined) break;
    committed.push({ executionMs: ms });
  }
  return committed;
}

/**
 * Sizes batches so one takes about {@link BATCH_TARGET_MS}: the first has
 * {@link FIRST_BATCH_SIZE} migrations, each next one at most twice the
 * previous and at most as many as fit in the target at the time per
 * migration measured so far (a slow migration shrinks the next batches, down
 * to one migration at a time).
 */
export class BatchSizer {
  private size = FIRST_BATCH_SIZE;

  /** The number of migrations for the next batch (≥ 1). */
  next(): number {
    return this.size;
  }

  /** Records that `count` migrations took `ms` in all. */
  record(count: number, ms: number): void {
    if (count <= 0) return;
    const perMigration = Math.max(ms / count, 0.01);
    const fit = Math.max(1, Math.floor(BATCH_TARGET_MS / perMigration));
    this.size = Math.max(1, Math.min(MAX_BATCH_MIGRATIONS, Math.max(2, this.size * 2), fit));
  }
}
