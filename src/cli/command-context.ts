import { relative } from 'node:path';
import { parseDatabaseUrl, startEmbeddedServer } from '../db/index.js';

/** What every command handler gets: output channels, the database and cleanup. */
export interface CommandContext {
  /** `--json` was given: print one JSON document on stdout, nothing else there. */
  readonly json: boolean;
  /** Working directory the command resolves relative paths against. */
  readonly cwd: string;
  /** Prints a line on stdout. */
  out(line: string): void;
  /** Prints a line on stderr (notices, progress). */
  err(line: string): void;
  /** Prints `value` as JSON on stdout (2-space indent). */
  printJson(value: unknown): void;
  /**
   * The database URL: `--database-url`, then `DATABASE_URL`, then `configured`
   * (from the config/plan file), else the embedded PostgreSQL in `.cutover/pg`
   * (started on first call, stopped when the command ends; one line on stderr says so).
   */
  databaseUrl(options: {
    flag?: string | undefined;
    configured?: string | undefined;
  }): Promise<string>;
  /** Registers work to do when the command ends (in reverse order), success or not. */
  onCleanup(fn: () => Promise<void>): void;
}

/** Creates the {@link CommandContext} of one CLI invocation; `close()` runs the cleanups. */
export function createCommandContext(options: {
  json: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}): CommandContext & { close(): Promise<void> } {
  const cleanups: (() => Promise<void>)[] = [];
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let embeddedUrl: Promise<string> | undefined;
  return {
    json: options.json,
    cwd,
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
    printJson: (value) => process.stdout.write(JSON.stringify(value, null, 2) + '\n'),
    async databaseUrl({ flag, configured }) {
      if (flag !== undefined && flag !== '') return parseDatabaseUrl(flag, '--database-url');
      const fromEnv = env.DATABASE_URL;
      if (fromEnv !== undefined && fromEnv !== '') return parseDatabaseUrl(fromEnv, 'DATABASE_URL');
      if (configured !== undefined && configured !== '') {
        return parseDatabaseUrl(configured, 'database URL of the config file');
      }
      embeddedUrl ??= (async () => {
        const server = await startEmbeddedServer({ cwd });
        cleanups.push(() => server.stop());
        const where = relative(cwd, server.dataDir) || server.dataDir;
        process.stderr.write(
          `Using the embedded PostgreSQL in ${where} on port ${server.port}${server.started ? '' : ' (already running)'}; set DATABASE_URL or --database-url to use another.\n`,
        );
        return server.url;
      })();
      return embeddedUrl;
    },
    onCleanup(fn) {
      cleanups.push(fn);
    },
    async close() {
      for (const fn of cleanups.reverse()) {
        await fn().catch(() => undefined);
      }
      cleanups.length = 0;
    },
  };
}
