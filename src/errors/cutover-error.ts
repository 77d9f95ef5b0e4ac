/**
 * The category of a {@link CutoverError}. Each front end maps categories, not
 * individual codes: the CLI to an exit code (see `src/cli/exit-codes.ts`), the
 * HTTP server to a status. New error codes pick an existing category.
 *
 * - `usage`: a bad command-line flag or argument.
 * - `config`: bad configuration or input file (plan, migration file, payload).
 * - `validation`: the input is well-formed but a check failed (e.g. `migrate validate`).
 * - `busy`: a lock or lease is held by another process.
 * - `unavailable`: the database (or another required service/tool) cannot be reached.
 * - `not_found`: a named thing (run, flag, migration version, snapshot) does not exist.
 * - `refused`: the operation is not allowed in the current state (e.g. rollback past a point of no return).
 * - `unauthorized` / `forbidden`: missing/invalid credentials; valid credentials without the right.
 * - `failed`: the operation ran and failed (a migration statement errored, a step failed).
 */
export type ErrorCategory =
  | 'usage'
  | 'config'
  | 'validation'
  | 'busy'
  | 'unavailable'
  | 'not_found'
  | 'refused'
  | 'unauthorized'
  | 'forbidden'
  | 'failed';

/** Options accepted by {@link CutoverError}. */
export interface CutoverErrorOptions {
  /** Where the problem is: `file:line:column`, a JSON path, or a URL (no secrets). */
  location?: string;
  /** How to fix it, one sentence. */
  hint?: string;
  /** Machine-readable details (included in `--json` output and HTTP bodies). */
  details?: Record<string, unknown>;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error cutover throws on purpose. `code` is a stable
 * SCREAMING_SNAKE string (e.g. `MIGRATION_FAILED`, `LOCK_BUSY`) that callers
 * may switch on; `message` is one human sentence saying what happened.
 */
export class CutoverError extends Error {
  override readonly name: string = 'CutoverError';
  readonly code: string;
  readonly category: ErrorCategory;
  readonly location: string | undefined;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    category: ErrorCategory,
    message: string,
    options: CutoverErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.category = category;
    this.location = options.location;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** A JSON-safe view: `{ code, category, message, location?, hint?, details? }`. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      category: this.category,
      message: this.message,
      ...(this.location === undefined ? {} : { location: this.location }),
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** True when `value` is a {@link CutoverError} (also across duplicated module copies). */
export function isCutoverError(value: unknown): value is CutoverError {
  return (
    value instanceof CutoverError ||
    (value instanceof Error &&
      typeof (value as Partial<CutoverError>).code === 'string' &&
      typeof (value as Partial<CutoverError>).category === 'string')
  );
}
