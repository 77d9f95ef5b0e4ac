import type { Command } from 'commander';
import { connect, redactDatabaseUrl } from '../../db/index.js';
import { CutoverError } from '../../errors/index.js';
import { DEFAULT_HOST, DEFAULT_PORT, startServer } from '../../server/start-server.js';
import { createTokenStore } from '../../server/token-store.js';
import { EXIT } from '../exit-codes.js';
import { runCommand } from '../run-command.js';

interface ServeFlags {
  port?: string;
  host?: string;
  databaseUrl?: string;
  log?: boolean;
  json?: boolean;
}

/**
 * `cutover serve`: the flag server (Unleash client API, stream, admin API)
 * in one process, until SIGINT/SIGTERM, then a graceful shutdown. See the
 * README, "Flag server".
 */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      `Run the flag server: Unleash client API, Server-Sent Events stream and admin API on port ${DEFAULT_PORT} (stops gracefully on Ctrl-C / SIGTERM).`,
    )
    .option(
      '--port <port>',
      `TCP port (env CUTOVER_PORT; default ${DEFAULT_PORT}; 0 = any free port)`,
    )
    .option(
      '--host <address>',
      `address to bind (env CUTOVER_HOST; default ${DEFAULT_HOST}; 0.0.0.0 for all interfaces)`,
    )
    .option(
      '--database-url <url>',
      'PostgreSQL URL (default: DATABASE_URL, else the embedded PostgreSQL)',
    )
    .option('--log', 'log every request (JSON lines on stdout)')
    .option('--json', 'print the startup line as JSON')
    .action(async (opts: ServeFlags) => {
      await runCommand(opts, async (ctx) => {
        const port = parsePort(opts.port ?? process.env.CUTOVER_PORT);
        const host = opts.host ?? (process.env.CUTOVER_HOST || DEFAULT_HOST);
        const databaseUrl = await ctx.databaseUrl({ flag: opts.databaseUrl });
        // Listen for the stop signals before saying we are up, so a signal
        // right after the startup line still shuts down gracefully.
        const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
          process.once('SIGINT', () => resolve('SIGINT'));
          process.once('SIGTERM', () => resolve('SIGTERM'));
        });
        const server = await startServer({
          databaseUrl,
          port,
          host,
          logger: opts.log === true ? { level: 'info' } : false,
        });
        if (ctx.json) {
          ctx.printJson({ ok: true, url: server.url, port: server.port, host });
        } else {
          ctx.out(
            `cutover serve listening on ${server.url} (database ${redactDatabaseUrl(databaseUrl)})`,
          );
        }
        if (!(await hasTokens(databaseUrl))) {
          ctx.err(
            'No API tokens yet: create them with `cutover tokens create --name admin --type admin` and `cutover tokens create --name app --env production`.',
          );
        }
        const signal = await stopSignal;
        ctx.err(`${signal}: shutting down (finishing in-flight requests, closing streams)…`);
        await server.close();
        return EXIT.ok;
      });
    });
}

async function hasTokens(databaseUrl: string): Promise<boolean> {
  const pool = await connect(databaseUrl, { applicationName: 'cutover-serve', max: 1 });
  try {
    return (await createTokenStore(pool).list()).length > 0;
  } finally {
    await pool.end();
  }
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_PORT;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) {
    throw new CutoverError('USAGE', 'usage', `The port "${value}" is invalid.`, {
      location: '--port',
      hint: `Give a number from 0 to 65535 (default ${DEFAULT_PORT}).`,
    });
  }
  return port;
}
