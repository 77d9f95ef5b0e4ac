import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import Table from 'cli-table3';
import { Option, type Command } from 'commander';
import { connect } from '../../db/index.js';
import { CutoverError } from '../../errors/index.js';
import { parseRolloutPercent, parseTagFilter } from '../../flags/flag-mutations.js';
import type { FlagAdmin, FlagChange, FlagRecord } from '../../flags/flag-store-types.js';
import { createFlagStore } from '../../flags/flag-store.js';
import type { Flag, FlagEnvironment } from '../../flags/model.js';
import { createFlagAdminClient } from '../../server/admin-client.js';
import { ensureControlSchema } from '../../store/index.js';
import type { CommandContext } from '../command-context.js';
import { EXIT } from '../exit-codes.js';
import { runCommand } from '../run-command.js';
import { tableOptions } from '../table-options.js';

/** Flags shared by every `cutover flags` subcommand. */
interface CommonFlags {
  databaseUrl?: string;
  server?: string;
  token?: string;
  actor?: string;
  reason?: string;
  json?: boolean;
}

/**
 * `cutover flags …`: list, get, create, set, enable, disable, disable-all,
 * delete, history, restore, export, import — against the database directly
 * (`--database-url`, `DATABASE_URL`, or the embedded PostgreSQL) or a
 * `cutover serve` (`--server URL --token T`, or `CUTOVER_SERVER` /
 * `CUTOVER_TOKEN`). A thin layer over {@link FlagAdmin}; see the README,
 * "Flags and tokens CLI".
 */
export function registerFlags(program: Command): void {
  const flags = program
    .command('flags')
    .description(
      'Manage feature flags (Unleash-compatible): list, create, roll out, kill switch, history, restore, export/import — in the database or through a cutover server.',
    );

  common(flags.command('list'))
    .description('List flags with their state per environment.')
    .option('--tag <name=value>', 'only flags with this tag, e.g. category=migration')
    .action(async (opts: CommonFlags & { tag?: string }) => {
      await runCommand(opts, async (ctx) => {
        const tag = opts.tag === undefined ? undefined : parseTagFilter(opts.tag, '--tag');
        const admin = await backend(ctx, opts);
        const records = await admin.list({ tag });
        if (ctx.json) {
          ctx.printJson({ ok: true, flags: records });
          return EXIT.ok;
        }
        if (records.length === 0) {
          ctx.out(
            tag === undefined
              ? 'No flags yet. Create one with: cutover flags create <key>'
              : 'No flag has that tag.',
          );
          return EXIT.ok;
        }
        const table = new Table(
          tableOptions(['key', 'environments', 'tags', 'version', 'updated']),
        );
        for (const record of records) {
          table.push([
            record.flag.key,
            describeEnvironments(record.flag),
            Object.entries(record.flag.tags ?? {})
              .map(([k, v]) => `${k}=${v}`)
              .join(', '),
            String(record.version),
            `${record.updatedAt.toISOString()} by ${record.updatedBy}`,
          ]);
        }
        ctx.out(table.toString());
        return EXIT.ok;
      });
    });

  common(flags.command('get').argument('<key>', 'flag key'))
    .description('Print a flag: its definition (JSON) and version.')
    .action(async (key: string, opts: CommonFlags) => {
      await runCommand(opts, async (ctx) => {
        const record = await (await backend(ctx, opts)).get(key);
        if (ctx.json) {
          ctx.printJson({ ok: true, ...record });
          return EXIT.ok;
        }
        printRecord(ctx, record);
        return EXIT.ok;
      });
    });

  common(flags.command('create').argument('<key>', 'flag key, e.g. new-dashboard'))
    .description(
      'Create a flag, from a JSON definition (--file) or from options: each --env gets a flexibleRollout at --rollout % (default 0), enabled.',
    )
    .option('--file <path>', 'JSON definition of the flag (the format of `flags get --json`.flag)')
    .option('--description <text>', 'what the flag is for')
    .option('--owner <name>', 'who owns it')
    .option(
      '--type <type>',
      'Unleash flag type: release, experiment, operational, kill-switch, permission',
    )
    .option('--tag <name=value...>', 'tags, e.g. --tag category=migration (repeatable)')
    .option('--env <environment...>', 'environments to define (repeatable), e.g. --env production')
    .option('--rollout <percent>', 'rollout percentage of each --env (0..100)', '0')
    .option('--disabled', 'create the environments disabled (kill switch on)')
    .action(
      async (
        key: string,
        opts: CommonFlags & {
          file?: string;
          description?: string;
          owner?: string;
          type?: string;
          tag?: string[];
          env?: string[];
          rollout: string;
          disabled?: boolean;
        },
      ) => {
        await runCommand(opts, async (ctx) => {
          let input: unknown;
          if (opts.file !== undefined) {
            const document = await readJson(ctx, opts.file);
            input =
              typeof document === 'object' && document !== null && !('key' in document)
                ? { key, ...document }
                : document;
            if ((input as { key?: unknown }).key !== key) {
              throw usage(
                `The file defines flag "${String((input as { key?: unknown }).key)}", not "${key}".`,
                'Make the key argument and the file agree.',
              );
            }
          } else {
            const rollout = parseRolloutPercent(opts.rollout, '--rollout');
            const tags = Object.fromEntries(
              (opts.tag ?? []).map((t) => {
                const tag = parseTagFilter(t, '--tag');
                return [tag.name, tag.value];
              }),
            );
            const environments: Record<string, FlagEnvironment> = {};
            for (const env of opts.env ?? []) {
              environments[env] = {
                enabled: opts.disabled !== true,
                strategies: [
                  {
                    name: 'flexibleRollout',
                    parameters: { rollout: String(rollout), stickiness: 'default', groupId: key },
                    constraints: [],
                  },
                ],
              };
            }
            input = {
              key,
              ...(opts.description === undefined ? {} : { description: opts.description }),
              ...(opts.owner === undefined ? {} : { owner: opts.owner }),
              ...(opts.type === undefined ? {} : { type: opts.type }),
              ...(Object.keys(tags).length === 0 ? {} : { tags }),
              environments,
            };
          }
          const admin = await backend(ctx, opts);
          return printChange(ctx, await admin.create(input, meta(opts)));
        });
      },
    );

  common(flags.command('set').argument('<key>', 'flag key'))
    .description(
      'Change a flag in --env (default: every environment it defines): its rollout percentage (--rollout) and/or the users always enabled (--users), as one version; or replace its whole definition (--file).',
    )
    .option('--rollout <percent>', 'rollout percentage, 0..100')
    .option(
      '--users <ids>',
      'comma-separated user ids always enabled (userWithId); "" removes them',
    )
    .option(
      '--env <environment>',
      'the environment to change, one the flag defines (default: all of them)',
    )
    .option('--file <path>', 'replace the whole definition with this JSON file')
    .action(
      async (
        key: string,
        opts: CommonFlags & { rollout?: string; users?: string; env?: string; file?: string },
      ) => {
        await runCommand(opts, async (ctx) => {
          const patching = opts.rollout !== undefined || opts.users !== undefined;
          if (patching === (opts.file !== undefined)) {
            throw usage(
              'Give --rollout and/or --users, or --file.',
              'e.g. cutover flags set new-dashboard --rollout 20 --env production',
            );
          }
          const admin = await backend(ctx, opts);
          if (opts.file === undefined) await assertEnvironment(admin, key, opts.env);
          if (opts.file !== undefined) {
            const document = await readJson(ctx, opts.file);
            const input =
              typeof document === 'object' && document !== null && !('key' in document)
                ? { key, ...document }
                : document;
            return printChange(ctx, await admin.update(key, input, meta(opts)));
          }
          const rollout =
            opts.rollout === undefined ? undefined : parseRolloutPercent(opts.rollout, '--rollout');
          const users = opts.users === undefined ? undefined : opts.users.split(',');
          const change =
            users === undefined && rollout !== undefined
              ? await admin.setRollout(key, rollout, { ...meta(opts), env: opts.env })
              : await admin.patch(key, { rollout, users }, { ...meta(opts), env: opts.env });
          return printChange(ctx, change);
        });
      },
    );

  for (const action of ['enable', 'disable'] as const) {
    common(flags.command(action).argument('<key>', 'flag key'))
      .description(
        action === 'enable'
          ? 'Turn a flag on in --env, or in every environment it defines.'
          : 'Kill switch: turn a flag off in --env, or in every environment it defines.',
      )
      .option('--env <environment>', 'the environment, one the flag defines (default: all of them)')
      .action(async (key: string, opts: CommonFlags & { env?: string }) => {
        await runCommand(opts, async (ctx) => {
          const admin = await backend(ctx, opts);
          await assertEnvironment(admin, key, opts.env);
          const change =
            action === 'enable'
              ? await admin.enable(key, { ...meta(opts), env: opts.env })
              : await admin.disable(key, { ...meta(opts), env: opts.env });
          return printChange(ctx, change);
        });
      });
  }

  common(flags.command('disable-all'))
    .description(
      'Kill switch for a group: disable every flag with a tag, in one transaction (e.g. --tag category=migration).',
    )
    .requiredOption('--tag <name=value>', 'the tag, e.g. category=migration')
    .option(
      '--env <environment>',
      'the environment, one the flags define (default: every environment of each flag)',
    )
    .action(async (opts: CommonFlags & { tag: string; env?: string }) => {
      await runCommand(opts, async (ctx) => {
        const tag = parseTagFilter(opts.tag, '--tag');
        const admin = await backend(ctx, opts);
        if (opts.env !== undefined) {
          const envs = new Set(
            (await admin.list({ tag })).flatMap((r) => Object.keys(r.flag.environments)),
          );
          if (envs.size > 0 && !envs.has(opts.env)) {
            throw unknownEnvironment(
              `No flag with the tag ${opts.tag} has the environment`,
              opts.env,
              [...envs],
            );
          }
        }
        const changes = await admin.disableByTag(tag, { ...meta(opts), env: opts.env });
        if (ctx.json) {
          ctx.printJson({ ok: true, changes });
          return EXIT.ok;
        }
        if (changes.length === 0) ctx.out(`No flag has the tag ${tag.name}=${tag.value}.`);
        for (const change of changes) ctx.out(changeLine(change));
        return EXIT.ok;
      });
    });

  common(flags.command('delete').argument('<key>', 'flag key'))
    .description(
      'Delete a flag (its history stays; `flags restore <key> <version>` brings it back).',
    )
    .action(async (key: string, opts: CommonFlags) => {
      await runCommand(opts, async (ctx) =>
        printChange(ctx, await (await backend(ctx, opts)).delete(key, meta(opts))),
      );
    });

  common(flags.command('history').argument('<key>', 'flag key'))
    .description('Show the versions of a flag: who, when, why, what.')
    .option('--limit <n>', 'at most this many versions (newest first)')
    .action(async (key: string, opts: CommonFlags & { limit?: string }) => {
      await runCommand(opts, async (ctx) => {
        const limit = opts.limit === undefined ? undefined : positiveInteger(opts.limit, '--limit');
        const versions = await (await backend(ctx, opts)).history(key, { limit });
        if (ctx.json) {
          ctx.printJson({ ok: true, versions });
          return EXIT.ok;
        }
        const table = new Table(
          tableOptions(['version', 'action', 'state', 'actor', 'at', 'reason']),
        );
        for (const v of versions) {
          table.push([
            String(v.version),
            v.action,
            v.flag === null ? '(deleted)' : describeEnvironments(v.flag),
            v.actor,
            v.createdAt.toISOString(),
            v.reason ?? '',
          ]);
        }
        ctx.out(table.toString());
        return EXIT.ok;
      });
    });

  common(
    flags
      .command('restore')
      .argument('<key>', 'flag key')
      .argument('<version>', 'the version to restore exactly (0 = delete the flag)'),
  )
    .description('Make a flag exactly what it was at a version (recorded as a new version).')
    .action(async (key: string, version: string, opts: CommonFlags) => {
      await runCommand(opts, async (ctx) => {
        const n = nonNegativeInteger(version, '<version>');
        return printChange(
          ctx,
          await (await backend(ctx, opts)).restoreVersion(key, n, meta(opts)),
        );
      });
    });

  common(flags.command('export'))
    .description('Write every flag and segment as one JSON document (stdout, or --out).')
    .option('--out <path>', 'write to this file instead of stdout')
    .action(async (opts: CommonFlags & { out?: string }) => {
      await runCommand(opts, async (ctx) => {
        const document = await (await backend(ctx, opts)).export();
        const text = JSON.stringify(document, null, 2) + '\n';
        if (opts.out !== undefined) {
          await writeFile(resolve(ctx.cwd, opts.out), text);
          if (ctx.json) ctx.printJson({ ok: true, file: opts.out, flags: document.flags.length });
          else ctx.out(`Exported ${document.flags.length} flag(s) to ${opts.out}`);
        } else if (ctx.json) {
          ctx.printJson({ ok: true, ...document });
        } else {
          process.stdout.write(text);
        }
        return EXIT.ok;
      });
    });

  common(flags.command('import').argument('<file>', 'a `flags export` document ("-" = stdin)'))
    .description(
      'Import flags (and segments) from JSON in one transaction: all valid, or nothing written.',
    )
    .addOption(
      new Option(
        '--mode <mode>',
        'merge: create/update the listed flags; replace: also delete the others',
      )
        .choices(['merge', 'replace'])
        .default('merge'),
    )
    .action(async (file: string, opts: CommonFlags & { mode: 'merge' | 'replace' }) => {
      await runCommand(opts, async (ctx) => {
        const document = await readJson(ctx, file);
        const changes = await (
          await backend(ctx, opts)
        ).import(document, { ...meta(opts), mode: opts.mode });
        if (ctx.json) {
          ctx.printJson({ ok: true, changes });
          return EXIT.ok;
        }
        const changed = changes.filter((c) => c.changed);
        for (const change of changed) ctx.out(changeLine(change));
        ctx.out(
          `Imported: ${changed.length} changed, ${changes.length - changed.length} unchanged.`,
        );
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
    .option('--server <url>', 'use a cutover server instead of the database (env CUTOVER_SERVER)')
    .option('--token <token>', 'admin token for --server (env CUTOVER_TOKEN)')
    .option(
      '--actor <name>',
      'who is recorded as making the change (default: CUTOVER_ACTOR or the OS user; the token name with --server)',
    )
    .option('--reason <text>', 'why, recorded in the history and the audit log')
    .option('--json', 'print one JSON document');
}

/** The {@link FlagAdmin} the options point at: a server, or the database. */
async function backend(ctx: CommandContext, opts: CommonFlags): Promise<FlagAdmin> {
  const server = opts.server ?? nonEmpty(process.env.CUTOVER_SERVER);
  if (server !== undefined) {
    if (opts.databaseUrl !== undefined) {
      throw usage('Give --server or --database-url, not both.', 'Drop one of them.');
    }
    const token = opts.token ?? nonEmpty(process.env.CUTOVER_TOKEN);
    if (token === undefined) {
      throw usage(
        '--server needs an admin token.',
        'Pass --token <admin token> or set CUTOVER_TOKEN.',
      );
    }
    try {
      new URL(server);
    } catch {
      throw usage(`--server "${server}" is not a URL.`, 'e.g. --server http://127.0.0.1:4242');
    }
    return createFlagAdminClient({ url: server, token });
  }
  const url = await ctx.databaseUrl({ flag: opts.databaseUrl });
  const pool = await connect(url, { applicationName: 'cutover-flags', max: 2 });
  ctx.onCleanup(() => pool.end());
  await ensureControlSchema(pool);
  return createFlagStore(pool);
}

function meta(opts: CommonFlags): { actor: string; reason?: string | undefined } {
  const actor = opts.actor ?? nonEmpty(process.env.CUTOVER_ACTOR) ?? safeUserName();
  return { actor, reason: opts.reason };
}

function safeUserName(): string {
  try {
    return userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

async function readJson(ctx: CommandContext, file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(resolve(ctx.cwd, file), 'utf8');
  } catch (error) {
    throw new CutoverError(
      'FILE_UNREADABLE',
      'usage',
      `Cannot read ${file}: ${(error as Error).message}.`,
      {
        location: file,
        hint: 'Check the path.',
      },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CutoverError(
      'FLAG_INVALID',
      'config',
      `${file} is not valid JSON: ${(error as Error).message}.`,
      {
        location: file,
        hint: 'Give a JSON document (e.g. the output of `cutover flags export`).',
      },
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One line per environment state: `production: on 20%`, `staging: off`. */
export function describeEnvironments(flag: Flag): string {
  const entries = Object.entries(flag.environments);
  if (entries.length === 0) return '(none)';
  return entries
    .map(([name, env]) => {
      const strategies = env.strategies
        .filter((s) => s.disabled !== true)
        .map((s) =>
          s.name === 'flexibleRollout'
            ? `${String(s.parameters?.rollout ?? 100)}%`
            : s.name === 'default'
              ? 'all'
              : s.name === 'userWithId'
                ? `users(${
                    String(s.parameters?.userIds ?? '')
                      .split(',')
                      .filter((u) => u.trim() !== '').length
                  })`
                : s.name,
        );
      return `${name}: ${env.enabled ? 'on' : 'off'}${strategies.length > 0 ? ` ${strategies.join(', ')}` : ''}`;
    })
    .join('\n');
}

function changeLine(change: FlagChange): string {
  if (!change.changed) return `${change.key}: unchanged (version ${change.version})`;
  if (change.flag === null) return `${change.key}: deleted (was version ${change.previousVersion})`;
  const state = describeEnvironments(change.flag).replace(/\n/g, '; ');
  return `${change.key}: ${change.action} → version ${change.version}${change.previousVersion === 0 ? '' : ` (was ${change.previousVersion})`} — ${state}`;
}

function printChange(ctx: CommandContext, change: FlagChange): number {
  if (ctx.json) ctx.printJson({ ok: true, ...change });
  else ctx.out(changeLine(change));
  return EXIT.ok;
}

function printRecord(ctx: CommandContext, record: FlagRecord): void {
  ctx.out(
    `${record.flag.key} — version ${record.version}, updated ${record.updatedAt.toISOString()} by ${record.updatedBy}`,
  );
  ctx.out(describeEnvironments(record.flag));
  ctx.out(JSON.stringify(record.flag, null, 2));
}

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1)
    throw usage(`${flag} must be a positive integer (got "${value}").`, `e.g. ${flag} 10`);
  return n;
}

function nonNegativeInteger(value: string, what: string): number {
  if (!/^\d+$/.test(value))
    throw usage(
      `${what} must be a whole number (got "${value}").`,
      'See the versions with `cutover flags history <key>`.',
    );
  return Number(value);
}

/**
 * Refuses a change of `--env` in an environment the flag does not define: a
 * typo (`--env prodution`) would otherwise add a new environment and leave the
 * real one as it was — a kill switch that silently does nothing.
 *
 * @throws CutoverError `FLAG_ENVIRONMENT_UNKNOWN` (not_found), `FLAG_NOT_FOUND`.
 */
async function assertEnvironment(
  admin: FlagAdmin,
  key: string,
  env: string | undefined,
): Promise<void> {
  if (env === undefined) return;
  const environments = Object.keys((await admin.get(key)).flag.environments);
  if (!environments.includes(env)) {
    throw unknownEnvironment(`Flag "${key}" has no environment`, env, environments);
  }
}

function unknownEnvironment(what: string, env: string, known: string[]): CutoverError {
  return new CutoverError(
    'FLAG_ENVIRONMENT_UNKNOWN',
    'not_found',
    `${what} "${env}" (${known.length === 0 ? 'it defines none' : `defined: ${known.sort().join(', ')}`}); nothing was changed.`,
    {
      location: '--env',
      hint: 'Check the --env spelling. To add an environment, give the whole definition: cutover flags set <key> --file flag.json.',
    },
  );
}

function usage(message: string, hint: string): CutoverError {
  return new CutoverError('USAGE', 'usage', message, { hint });
}
