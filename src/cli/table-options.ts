import type Table from 'cli-table3';

/**
 * cli-table3 options for a table with these column headers: coloured header
 * and borders only when stdout is a terminal (and `NO_COLOR` is not set), so
 * output piped to a file or another program holds no ANSI escape codes.
 */
export function tableOptions(
  head: string[],
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): ConstructorParameters<typeof Table>[0] {
  const colour = stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
  return colour ? { head } : { head, style: { head: [], border: [] } };
}
