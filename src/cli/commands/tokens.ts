import { userInfo } from 'node:os';
import Table from 'cli-table3';
import { Option, type Command } from 'commander';
import { connect } from '../../db/index.js';
import { createTokenStore, type TokenStore, type TokenType } from '../../server/token-store.js';
import { ensureControlSchema } from '../../store/index.js';
import type { CommandContext } from '../command-context.js';
import { EXIT } from '../exit-codes.js';
import { runCommand } from '../run-command.js';
import { tableOptions } from '../table-options.js';

interface CommonFlags {
  databaseUrl?: string;
  actor?: string;
  json?: boolean;
}

/**
 * `cutover tokens create|list|revoke`: API tokens of `cutover serve`, in the
 * database (stored as sha256 hashes; the secret is printed once, at
 * creation). See the README, "Tokens".
 */
export function registerTokens(program: Command): void {
  const tokens = program
    .command('tokens')
    .description(
      'Manage the API tokens of cutover serve: client tokens (read-only, one environment) and admin tokens.',
    );

  common(tokens.command('create'))
    .description('Create a token and print it once (only its sha256 hash is stored).')
    .requiredOption(
      '--name <name>',
      'unique name; recorded as the actor of admin changes made with it',
    )
    .addOption(
      new Option(
        '--type <type>',
        'client: read-only client API of one environment; admin: the admin API',
      )
        .choices(['client', 'admin'])
        .default('client'),
    )
    .option('--env <environment>', 'the environment of a client token (required for client tokens)')
    .action(async (opts: CommonFlags & { name: string; type: TokenType; env?: string }) => {
      await runCommand(opts, async (ctx) => {
        const store = await open(ctx, opts);
        const created = await store.create(
          { name: opts.name, type: opts.type, environment: opts.env },
          { actor: actor(opts) },
        );
        if (ctx.json) {
          ctx.printJson({ ok: true, token: created.token, ...created.record });
          return EXIT.ok;
        }
        ctx.err(
          `Created ${created.record.type} token "${created.record.name}"${created.record.environment === null ? '' : ` for ${created.record.environment}`}. It is shown once; store it now:`,
        );
        ctx.out(created.token);
        return EXIT.ok;
      });
    });

  common(tokens.command('list'))
    .description('List tokens (never their secrets).')
    .option('--all', 'include revoked tokens')
    .action(async (opts: CommonFlags & { all?: boolean }) => {
      await runCommand(opts, async (ctx) => {
        const list = await (await open(ctx, opts)).list({ includeRevoked: opts.all === true });
        if (ctx.json) {
          ctx.printJson({ ok: true, tokens: list });
          return EXIT.ok;
        }
        if (list.length === 0) {
          ctx.out('No tokens. Create one with: cutover tokens create --name <name> --type admin');
          return EXIT.ok;
        }
        const table = new Table(
          tableOptions(['id', 'name', 'type', 'environment', 'token', 'created', 'revoked']),
        );
        for (const t of list) {
          table.push([
            String(t.id),
            t.name,
            t.type,
            t.environment ?? '*',
            t.display,
            `${t.createdAt.toISOString()} by ${t.createdBy}`,
            t.revokedAt?.toISOString() ?? '',
          ]);
        }
        ctx.out(table.toString());
        return EXIT.ok;
      });
    });

  common(tokens.command('revoke').argument('<name>', 'token name (or id)'))
    .description('Revoke a token; running servers stop accepting it at once.')
    .action(async (name: string, opts: CommonFlags) => {
      await runCommand(opts, async (ctx) => {
        const record = await (await open(ctx, opts)).revoke(name, { actor: actor(opts) });
        if (ctx.json) ctx.printJson({ ok: true, ...record });
        else ctx.out(`Revoked ${record.type} token "${record.name}".`);
        return EXIT.ok;
      });
    });
}

function common(command: Command): Command {
  return command
    .option(
      '--database-url <url>',
      'PostgreSQL URL (default: DATABASE_URL, else the embedded PostgreSQL)',
    )
    .option(
      '--actor <name>',
      'who is recorded in the audit log (default: CUTOVER_ACTOR or the OS user)',
    )
    .option('--json', 'print one JSON document');
}

async function open(ctx: CommandContext, opts: CommonFlags): Promise<TokenStore> {
  const url = await ctx.databaseUrl({ flag: opts.databaseUrl });
  const pool = await connect(url, { applicationName: 'cutover-tokens', max: 2 });
  ctx.onCleanup(() => pool.end());
  await ensureControlSchema(pool);
  return createTokenStore(pool);
}

function actor(opts: CommonFlags): string {
  if (opts.actor !== undefined && opts.actor !== '') return opts.actor;
  const fromEnv = process.env.CUTOVER_ACTOR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    return userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}
