import { isCutoverError } from '../errors/index.js';
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

/** Prints `error` as one line (or JSON) and returns its exit code. */
export function reportError(ctx: CommandContext, error: unknown): number {
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
  const message = error instanceof Error ? error.message : String(error);
  if (ctx.json) {
    ctx.printJson({ ok: false, error: { code: 'INTERNAL', category: 'failed', message } });
  } else {
    ctx.err(`error INTERNAL: ${message}`);
    if (process.env.CUTOVER_DEBUG && error instanceof Error && error.stack) ctx.err(error.stack);
  }
  return EXIT.failed;
}
