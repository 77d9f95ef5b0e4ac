import { createInterface } from 'node:readline/promises';
import { CutoverError } from '../errors/index.js';
import type { CommandContext } from './command-context.js';

/**
 * Asks before a destructive action. `--yes` skips the question; without a
 * terminal (or with `--json`) `--yes` is required.
 *
 * @returns true when confirmed, false when the user answered no.
 * @throws CutoverError `CONFIRMATION_REQUIRED` (usage) without `--yes` and without a terminal.
 */
export async function confirmAction(
  ctx: CommandContext,
  question: string,
  yes: boolean | undefined,
): Promise<boolean> {
  if (yes === true) return true;
  if (ctx.json || process.stdin.isTTY !== true) {
    throw new CutoverError(
      'CONFIRMATION_REQUIRED',
      'usage',
      `${question.replace(/\?$/, '')}: this changes data and needs confirmation.`,
      { hint: 'Add --yes to confirm.' },
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/**
 * An AbortSignal aborted by the first Ctrl-C (SIGINT), with a line saying what
 * happens; call `dispose` when done.
 */
export function interruptSignal(
  ctx: CommandContext,
  what: string,
): {
  signal: AbortSignal;
  dispose(): void;
} {
  const controller = new AbortController();
  const onSigint = (): void => {
    ctx.err(`Interrupted: ${what}`);
    controller.abort(new CutoverError('INTERRUPTED', 'failed', 'Interrupted (Ctrl-C).'));
  };
  process.once('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}
