import { isConnectionError, isDatabaseError } from '../db/index.js';
import { CutoverError, describeError, isCutoverError } from '../errors/index.js';
import { createCommandContext, type CommandContext } from './command-context.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

/**
 * The one wrapper every CLI handler goes through (graphile-migrate's pattern):
 * it builds the {@link CommandContext}, runs the handler, maps any error to one
 * clear line on stderr (or a JSON document with `--json`) and an exit code
 * (see `exit-codes.ts`), runs cleanups, and sets `process.exitCode`.
 *
 * The handler returns its exit code (default 0).
 */
export async function runCommand(
  options: { json?: boolean | undefined },
  handler: (ctx: CommandContext) => Promise<number | void>,
): Promise<void> {
  const ctx = createCommandContext({ json: options.json === true });
  let code: number;
  try {
    code = (await handler(ctx)) ?? EXIT.ok;
  } catch (error) {
    code = reportError(ctx, error);
  } finally {
    await ctx.close();
  }
  process.exitCode = code;
}

/**
 * Prints `error` as one line (or JSON) and returns its exit code. Errors that
 * are not CutoverErrors are classified first (see {@link classifyError}).
 */
export function reportError(ctx: CommandContext, raw: unknown): number {
  const error = classifyError(raw);
  if (isCutoverError(error)) {
    if (ctx.json) {
      ctx.printJson({ ok: false, error: error.toJSON() });
    } else {
      const where = error.location === undefined ? '' : ` (at ${error.location})`;
      const hint = error.hint === undefined ? '' : ` Fix: ${error.hint}`;
      ctx.err(`error ${error.code}: ${error.message}${where}${hint}`);
    }
    return exitCodeFor(error.category);
  }
  const message = describeError(error);
  if (ctx.json) {
    ctx.printJson({ ok: false, error: { code: 'INTERNAL', category: 'failed', message } });
  } else {
    ctx.err(`error INTERNAL: ${message}`);
    if (process.env.CUTOVER_DEBUG && error instanceof Error && error.stack) ctx.err(error.stack);
  }
  return EXIT.failed;
}

/**
 * Maps an error that escaped as a plain `Error` to a CutoverError when its kind
 * is known, so the user gets the documented code and exit code rather than
 * `INTERNAL`:
 *
 * - a lost or refused connection (`ECONNREFUSED`, `Connection terminated`,
 *   SQLSTATE 57P01/57P03 "the database system is shutting down", …) →
 *   `DATABASE_UNREACHABLE` (unavailable, exit 5);
 * - any other server error with a SQLSTATE → `DATABASE_ERROR` (failed, exit 1)
 *   naming the SQLSTATE.
 *
 * Anything else is returned unchanged (reported as `INTERNAL`).
 */
export function classifyError(error: unknown): unknown {
  if (isCutoverError(error) || !(error instanceof Error)) return error;
  if (isConnectionError(error)) {
    return new CutoverError(
      'DATABASE_UNREACHABLE',
      'unavailable',
      `The database connection failed: ${oneLine(error.message)}.`,
      {
        hint: 'Check that the database server is running and reachable, then run the command again (an interrupted run continues with `cutover resume`).',
        cause: error,
      },
    );
  }
  if (isDatabaseError(error)) {
    return new CutoverError(
      'DATABASE_ERROR',
      'failed',
      `The database reported an error: ${oneLine(error.message)} (SQLSTATE ${error.code}).`,
      { cause: error, details: { sqlstate: error.code } },
    );
  }
  return error;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
}
