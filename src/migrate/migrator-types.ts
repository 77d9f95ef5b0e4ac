import type { CutoverError } from '../errors/index.js';
import type { LockMode, MigrationLayout, StatementAnalysis } from './migration.js';

/** Which script of a migration runs. */
export type MigrationDirection = 'up' | 'down';

/**
 * Outcome of one migration in a {@link MigrationResultSet} (Kysely's pattern:
 * a status per migration instead of an exception halfway).
 *
 * - `applied` / `reverted`: ran and was recorded (up) or removed from the history (down).
 * - `failed`: ran and failed; `error` says why. A transactional migration left no trace.
 * - `pending`: not attempted because an earlier step failed (or the run was refused).
 * - `skipped`: not needed (e.g. already applied by another process meanwhile).
 * - `dry-run`: described only (`up({ dryRun: true })`), nothing ran.
 */
export type MigrationResultStatus =
  'applied' | 'reverted' | 'failed' | 'skipped' | 'pending' | 'dry-run';

/** Estimated size of a table a statement touches (dry run). */
export interface TableEstimate {
  /** Table name as written in the statement (schema-qualified when it is there). */
  table: string;
  /**
   * Estimated rows from `pg_class.reltuples`; `null` when the table does not
   * exist yet (created by an earlier pending migration) or was never analyzed.
   */
  estimatedRows: number | null;
  /** Whether the table exists now. */
  exists: boolean;
}

/** What the dry run says about one statement. */
export interface StatementReport extends StatementAnalysis {
  /** 0-based index of the statement in its script. */
  index: number;
  /** The statement text. */
  sql: string;
  /** Location `file:line:column` of its first character. */
  location: string;
  /** Why it cannot run in a transaction, when it cannot. */
  nonTransactional?: string;
  /** Estimated rows of each table it locks. */
  tableEstimates: TableEstimate[];
}

/** Result of one migration in `up`/`down`. */
export interface MigrationResult {
  /** Version (undefined for a repeatable migration). */
  version: string | undefined;
  name: string;
  kind: 'versioned' | 'repeatable';
  direction: MigrationDirection;
  status: MigrationResultStatus;
  /**
   * Wall time spent on it in ms (0 when it did not run). For a migration
   * applied in a batch: its execution time measured in the server, from its
   * `BEGIN` to its history row (the `execution_ms` recorded).
   */
  durationMs: number;
  /** True when it ran (or would run) as one transaction. */
  transactional: boolean;
  /** Why it runs outside a transaction, when it does (e.g. `CREATE INDEX CONCURRENTLY …`). */
  nonTransactionalReason?: string;
  /** The script file that ran (or would run). */
  file: string;
  /** Attempts made (1 + lock_timeout retries); 0 when it did not run. */
  attempts: number;
  /** Non-transactional only: the 0-based statement index it resumed at after an earlier failure. */
  resumedAtStatement?: number;
  /** INVALID indexes left by an earlier failed CONCURRENTLY build that were dropped before the retry. */
  droppedInvalidIndexes?: string[];
  /** Dry run: the statements with their lock analysis (absent for TypeScript migrations). */
  statements?: StatementReport[];
  /** Why it failed. */
  error?: CutoverError;
}

/**
 * What `up`/`down` return. `error` is set when the operation stopped early
 * (a failed migration, a busy lock, a refused request, an unreachable
 * database); `results` then says exactly which migrations ran.
 */
export interface MigrationResultSet {
  results: MigrationResult[];
  error?: CutoverError;
}

/** A session that holds cutover's migration advisory lock. */
export interface LockHolder {
  pid: number;
  applicationName: string;
  /** Client address, or null for a Unix-socket connection. */
  clientAddress: string | null;
  /** Database user. */
  user: string | null;
  /** Since when it holds the lock (when its lock request finished), as far as PostgreSQL tells. */
  since: Date | null;
  /** Backend state (`idle`, `active`, …). */
  state: string | null;
}

/** A session blocking a migration statement (from `pg_blocking_pids`). */
export interface BlockingSession {
  pid: number;
  /** Backend state (`idle in transaction`, `active`, …). */
  state: string | null;
  applicationName: string;
  clientAddress: string | null;
  user: string | null;
  /** How long its current transaction has been open, in ms; null when it has none. */
  transactionAgeMs: number | null;
  /** Its current (or last) query. */
  query: string | null;
}

/** Progress events of the {@link Migrator} (`onEvent` option); the CLI prints them. */
export type MigrateEvent =
  | { type: 'lock-wait'; holders: LockHolder[]; lockWaitMs: number }
  | { type: 'lock-acquired'; waitedMs: number }
  | {
      type: 'migration-start';
      version: string | undefined;
      name: string;
      direction: MigrationDirection;
      transactional: boolean;
      nonTransactionalReason?: string;
      file: string;
    }
  | {
      type: 'migration-resume';
      version: string | undefined;
      name: string;
      direction: MigrationDirection;
      /** 0-based index of the statement it resumes at. */
      statementIndex: number;
      statementCount: number;
    }
  | {
      type: 'statement-start';
      version: string | undefined;
      name: string;
      /** 0-based. */
      index: number;
      count: number;
      location: string;
    }
  | {
      type: 'lock-timeout-retry';
      version: string | undefined;
      name: string;
      /** 1-based number of the retry about to happen. */
      retry: number;
      maxRetries: number;
      delayMs: number;
      blockers: BlockingSession[];
    }
  | { type: 'invalid-index-dropped'; version: string | undefined; name: string; index: string }
  | { type: 'migration-end'; result: MigrationResult }
  | { type: 'warning'; message: string };

/** State of one migration in {@link MigrationStatusReport}. */
export type MigrationState =
  /** In the history with the same checksum as the file. */
  | 'applied'
  /** Not applied yet (a repeatable whose file changed is pending too, with `changed: true`). */
  | 'pending'
  /** Applied, but the file changed since (checksum differs). */
  | 'modified'
  /** Applied, but no file has that version any more. */
  | 'missing'
  /** The baseline marker (`baseline <version>`): everything up to it counts as applied. */
  | 'baseline'
  /** A file at or below the baseline version that was never applied by cutover: ignored. */
  | 'below-baseline';

/** One line of `status`. */
export interface MigrationStatusEntry {
  version: string | undefined;
  name: string;
  kind: 'versioned' | 'repeatable' | 'baseline';
  state: MigrationState;
  /** Pending and older than the newest applied version (refused unless `allowOutOfOrder`). */
  outOfOrder?: boolean;
  /** Repeatable only: applied before, and its checksum changed, so it will be re-applied. */
  changed?: boolean;
  /** The up file (absent for `missing` and a baseline without file). */
  file?: string;
  /** Checksum of the file now. */
  checksum?: string;
  /** Checksum recorded when it was applied. */
  appliedChecksum?: string | null;
  appliedAt?: Date;
  /** Execution time recorded when applied, in ms. */
  executionMs?: number;
  appliedBy?: string;
  runId?: string | null;
  /** Who applied it: cutover, a baseline, or an adopted tool's history. */
  source?: 'cutover' | 'baseline' | 'prisma' | 'flyway';
  /** Non-transactional migration stopped halfway: statements done of total. */
  partial?: { direction: MigrationDirection; statementsDone: number };
}

/** What `status()` returns. */
export interface MigrationStatusReport {
  /** Layout of the migrations directory (undefined when it is empty and none was configured). */
  layout: MigrationLayout | undefined;
  /** Newest applied version (including a baseline), or undefined when none. */
  current: string | undefined;
  /** Every migration file and every history entry, in version order (repeatables last). */
  migrations: MigrationStatusEntry[];
}

/** A problem `validate()` finds. */
export interface ValidationIssue {
  kind: 'modified' | 'missing' | 'out-of-order';
  version: string | undefined;
  name: string;
  /** One sentence. */
  message: string;
  /** The file concerned, when there is one. */
  file?: string;
}

/** What `validate()` returns. */
export interface ValidationReport {
  /** True when there is no issue. */
  ok: boolean;
  issues: ValidationIssue[];
  /** `MIGRATION_VALIDATION_FAILED` (category `validation`, CLI exit 3) when `ok` is false. */
  error?: CutoverError;
}

/** The lock mode type, re-exported for report consumers. */
export type { LockMode };
