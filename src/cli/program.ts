import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerBackup } from './commands/backup.js';
import { registerFlags } from './commands/flags.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPlan } from './commands/plan.js';
import { registerRun } from './commands/run.js';
import { registerRuns } from './commands/runs.js';
import { registerServe } from './commands/serve.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerTokens } from './commands/tokens.js';
import { EXIT } from './exit-codes.js';

/** Every command group registers itself here (one file per group under `commands/`). */
const REGISTRARS: ((program: Command) => void)[] = [
  registerMigrate,
  registerPlan,
  registerRun,
  registerRuns,
  registerSnapshot,
  registerBackup,
  registerFlags,
  registerTokens,
  registerServe,
];

/**
 * Builds the `cutover` command tree. Commander parses flags; handlers go
 * through `runCommand`. Usage errors (unknown flag, missing argument) are
 * reported as one line on stderr — or, with `json`, as the JSON error document
 * `{ ok: false, error: { code: "USAGE", … } }` on stdout — and exit code 2.
 */
export function buildProgram(options: { json?: boolean } = {}): Command {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const program = new Command('cutover')
    .description(
      'Safe, gradual and reversible production changes on PostgreSQL: migrations, backfills, verification, flag rollouts and guards in one durable plan.',
    )
    .version(pkg.version)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      outputError: (message, write) => {
        // Commander's messages may span lines ("(Did you mean logs?)"): one line.
        const text = message
          .replace(/^error: /, '')
          .trim()
          .replace(/\s*\n\s*/g, ' ');
        if (options.json === true) {
          const error = { code: 'USAGE', category: 'usage', message: text, hint: 'See --help.' };
          process.stdout.write(JSON.stringify({ ok: false, error }, null, 2) + '\n');
        } else {
          write(`error USAGE: ${text} (see --help)\n`);
        }
      },
    });
  for (const register of REGISTRARS) register(program);
  program.addHelpText(
    'after',
    `
Database: --database-url, else DATABASE_URL, else \`database\` of ./cutover.yaml
(not for flags, tokens and serve), else an embedded PostgreSQL with its data
in .cutover/pg (started on demand).
Every command takes --json (one JSON document on stdout).

Exit codes: 0 ok · 1 failed · 2 usage or config error · 3 validation failed ·
4 busy (lock or lease held) · 5 database unreachable · 6 not found ·
7 refused or not authorized · 130 interrupted (stopped at a safe point).`,
  );
  return program;
}

/** Runs the CLI on `argv` (as `process.argv`); sets `process.exitCode`. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram({ json: argv.slice(2).includes('--json') });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode =
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
          ? EXIT.ok
          : EXIT.usage;
      return;
    }
    throw error;
  }
}
