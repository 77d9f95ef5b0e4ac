import { relative, resolve } from 'node:path';
import Table from 'cli-table3';
import { Option, type Command } from 'commander';
import { CutoverError } from '../../errors/index.js';
import {
  MIGRATION_LAYOUTS,
  Migrator,
  type MigrateEvent,
  type MigrationLayout,
  type MigrationResult,
  type MigrationResultSet,
  type MigrationStatusEntry,
  type MigratorOptions,
  type StatementReport,
} from '../../migrate/index.js';
import type { CommandContext } from '../command-context.js';
import { EXIT, exitCodeFor } from '../exit-codes.js';
import {
  loadMigrateConfig,
  parseDuration,
  resolveConfiguredDatabase,
  type MigrateConfig,
} from '../migrate-config.js';
import { reportError, runCommand } from '../run-command.js';

/** Flags shared by the migrate subcommands (raw strings from commander). */
interface CommonFlags {
  databaseUrl?: string;
  dir?: string;
  layout?: MigrationLayout;
  config?: string;
  lockTimeout?: string;
  statementTimeout?: string;
  lockRetries?: string;
  lockWait?: string;
  allowOutOfOrder?: boolean;
  json?: boolean;
}

/**
 * `cutover migrate …`: create, up, down, status, validate, baseline. A thin
 * layer over {@link Migrator}; see the README section "Schema migrations".
 */
export function registerMigrate(program: Command): void {
  const migrate = program
    .command('migrate')
    .description(
      'Apply, revert and check schema migrations (dbmate, golang-migrate, Flyway, Prisma and TypeScript layouts) safely: one transaction per migration, lock_timeout with retries, an advisory lock against concurrent runs.',
    );

  common(migrate.command('create').argument('<name>', 'migration name, e.g. add_email_to_users'), {
    database: false,
  })
    .description("Create a new empty migration in the directory's layout and naming.")
    .action(async (name: string, flags: CommonFlags) => {
      await runCommand(flags, async (ctx) => {
        const { migrator } = await setup(ctx, flags, { database: false });
        const created = await migrator.create(name);
        if (ctx.json) ctx.printJson({ ok: true, ...created });
        else for (const file of created.files) ctx.out(`Created ${show(ctx, file)}`);
        return EXIT.ok;
      });
    });

  common(migrate.command('up'))
    .description(
      'Apply pending migrations, each in its own transaction (a migration with statements that cannot run in one runs outside, statement by statement with a checkpoint).',
    )
    .option('--to <version>', 'apply up to and including this version')
    .option(
      '--dry-run',
      'print what would run: SQL, transaction or not, lock and table rewrite per statement, table sizes; apply nothing',
    )
    .option('--allow-out-of-order', 'apply pending migrations older than the newest applied one')
    .action(async (flags: CommonFlags & { to?: string; dryRun?: boolean }) => {
      await runCommand(flags, async (ctx) => {
        const { migrator } = await setup(ctx, flags, { database: true });
        const to = flags.to === undefined ? {} : { to: flags.to };
        if (flags.dryRun === true) {
          const set = await migrator.up({ dryRun: true, ...to });
          return finish(ctx, set, () => printDryRun(ctx, set));
        }
        const controller = new AbortController();
        const onSigint = (): void => {
          ctx.err(
            'Interrupted: stopping after the current migration (Ctrl-C again aborts now; a transactional migration is then rolled back).',
          );
          controller.abort();
          process.once('SIGINT', () => process.exit(EXIT.interrupted));
        };
        process.once('SIGINT', onSigint);
        try {
          const set = await migrator.up({ signal: controller.signal, ...to });
          const code = finish(ctx, set, () => printSummary(ctx, set, 'up'));
          return set.error?.code === 'MIGRATION_INTERRUPTED' ? EXIT.interrupted : code;
        } finally {
          process.off('SIGINT', onSigint);
        }
      });
    });

  common(migrate.command('down'))
    .description(
      'Revert applied migrations with their down scripts, newest first (default: the newest one).',
    )
    .option('--to <version>', 'revert every migration newer than this version')
    .option('--steps <n>', 'revert the newest N migrations')
    .action(async (flags: CommonFlags & { to?: string; steps?: string }) => {
      await runCommand(flags, async (ctx) => {
        let steps: number | undefined;
        if (flags.steps !== undefined) {
          steps = Number(flags.steps);
          if (!/^\d+$/.test(flags.steps) || steps < 1) {
            throw usage(
              `--steps must be a positive integer (got "${flags.steps}").`,
              'Use --steps 1 to revert the newest migration.',
            );
          }
        }
        if (steps !== undefined && flags.to !== undefined) {
          throw usage('Give --to or --steps, not both.', 'Use --to VERSION or --steps N.');
        }
        const { migrator } = await setup(ctx, flags, { database: true });
        const set = await migrator.down(
          flags.to !== undefined ? { to: flags.to } : steps !== undefined ? { steps } : {},
        );
        return finish(ctx, set, () => printSummary(ctx, set, 'down'));
      });
    });

  common(migrate.command('status'))
    .description(
      'Show every migration: version, name, state (applied, pending, modified, missing), applied at, duration.',
    )
    .action(async (flags: CommonFlags) => {
      await runCommand(flags, async (ctx) => {
        const { migrator } = await setup(ctx, flags, { database: true });
        const report = await migrator.status();
        if (ctx.json) {
          ctx.printJson({ ok: true, ...report });
          return EXIT.ok;
        }
        const dir = migrator.dir === undefined ? '' : show(ctx, migrator.dir);
        ctx.out(
          `Migrations in ${dir} (layout ${report.layout ?? 'none detected'}); current version: ${report.current ?? 'none'}`,
        );
        if (report.migrations.length === 0) {
          ctx.out('No migrations yet. Create one with: cutover migrate create <name>');
          return EXIT.ok;
        }
        const table = new Table({
          head: ['Version', 'Name', 'State', 'Applied at', 'Duration'],
          style: { head: [], border: [] },
        });
        for (const e of report.migrations) {
          table.push([
            e.version ?? '(repeatable)',
            e.name,
            stateText(e),
            e.appliedAt === undefined
              ? ''
              : e.appliedAt
                  .toISOString()
                  .replace('T', ' ')
                  .replace(/\.\d+Z$/, 'Z'),
            e.executionMs === undefined ? '' : `${e.executionMs} ms`,
          ]);
        }
        ctx.out(table.toString());
        const pending = report.migrations.filter((e) => e.state === 'pending').length;
        ctx.out(`${pending} pending.`);
        return EXIT.ok;
      });
    });

  common(migrate.command('validate'))
    .description(
      'Check the history against the files: modified or missing applied migrations, out-of-order pending ones (exit 3 when any).',
    )
    .option(
      '--allow-out-of-order',
      'do not report pending migrations older than the newest applied one',
    )
    .action(async (flags: CommonFlags) => {
      await runCommand(flags, async (ctx) => {
        const { migrator } = await setup(ctx, flags, { database: true });
        const report = await migrator.validate();
        if (ctx.json) {
          ctx.printJson({
            ok: report.ok,
            issues: report.issues,
            ...(report.error === undefined ? {} : { error: report.error.toJSON() }),
          });
          return report.error === undefined ? EXIT.ok : exitCodeFor(report.error.category);
        }
        if (report.ok) {
          ctx.out('OK: the migration history matches the files.');
          return EXIT.ok;
        }
        for (const issue of report.issues) {
          ctx.out(
            `${issue.kind.padEnd(12)} ${issue.message}${issue.file === undefined ? '' : ` (${show(ctx, issue.file)})`}`,
          );
        }
        return report.error === undefined ? EXIT.validation : reportError(ctx, report.error);
      });
    });

  common(
    migrate.command('baseline').argument('[version]', 'the version the existing database is at'),
  )
    .description(
      "Mark an existing database as being at <version> (files up to it never run), or adopt another tool's history with --adopt.",
    )
    .addOption(
      new Option(
        '--adopt <tool>',
        'import the history of Prisma Migrate (_prisma_migrations) or Flyway (flyway_schema_history)',
      ).choices(['prisma', 'flyway']),
    )
    .action(
      async (version: string | undefined, flags: CommonFlags & { adopt?: 'prisma' | 'flyway' }) => {
        await runCommand(flags, async (ctx) => {
          if ((version === undefined) === (flags.adopt === undefined)) {
            throw usage(
              version === undefined
                ? 'Give a version to baseline at, or --adopt prisma|flyway.'
                : 'Give a version or --adopt, not both.',
              'cutover migrate baseline 0003, or cutover migrate baseline --adopt prisma',
            );
          }
          const { migrator } = await setup(ctx, flags, { database: true });
          if (flags.adopt !== undefined) {
            const result = await migrator.adopt(flags.adopt);
            if (ctx.json) {
              const { error, ...rest } = result;
              ctx.printJson({
                ok: error === undefined,
                ...rest,
                ...(error === undefined ? {} : { error: error.toJSON() }),
              });
              return error === undefined ? EXIT.ok : exitCodeFor(error.category);
            }
            if (result.error !== undefined) return reportError(ctx, result.error);
            const table = flags.adopt === 'prisma' ? '_prisma_migrations' : 'flyway_schema_history';
            const n = result.adopted.length;
            ctx.out(
              `Adopted ${n} migration${n === 1 ? '' : 's'} from ${table}${result.alreadyPresent.length > 0 ? ` (${result.alreadyPresent.length} already in cutover's history)` : ''}.`,
            );
            for (const e of [...result.adopted, ...result.alreadyPresent]) {
              const match =
                e.match === 'same'
                  ? 'file matches'
                  : e.match === 'modified'
                    ? 'FILE CHANGED since it was applied'
                    : 'NO FILE';
              ctx.out(`  ${e.version ?? '(repeatable)'} ${e.name}: ${match}`);
            }
            if (result.baseline !== undefined) ctx.out(`  baseline ${result.baseline}`);
            for (const i of result.ignored) ctx.out(`  ignored ${i.name}: ${i.reason}`);
            return EXIT.ok;
          }
          const result = await migrator.baseline(version as string);
          if (ctx.json) {
            const { error, ...rest } = result;
            ctx.printJson({
              ok: error === undefined,
              ...rest,
              ...(error === undefined ? {} : { error: error.toJSON() }),
            });
            return error === undefined ? EXIT.ok : exitCodeFor(error.category);
          }
          if (result.error !== undefined) return reportError(ctx, result.error);
          const n = result.covered.length;
          ctx.out(
            `Baseline ${result.version} recorded: ${n} migration file${n === 1 ? '' : 's'} at or below it count${n === 1 ? 's' : ''} as applied and will not run.`,
          );
          return EXIT.ok;
        });
      },
    );
}

/** Adds the shared flags to a subcommand. */
function common(command: Command, options: { database?: boolean } = {}): Command {
  if (options.database !== false) {
    command
      .option(
        '--database-url <url>',
        'PostgreSQL URL (default: DATABASE_URL, the config file, else the embedded PostgreSQL in .cutover/pg)',
      )
      .option(
        '--lock-timeout <duration>',
        'lock_timeout of every statement, e.g. 2s, 500ms (default 2s; 0 = none)',
      )
      .option(
        '--statement-timeout <duration>',
        'statement_timeout of every statement (default none)',
      )
      .option(
        '--lock-retries <n>',
        'retries after a lock timeout, with exponential backoff and jitter (default 5)',
      )
      .option(
        '--lock-wait <duration>',
        'how long to wait for another migrator holding the migration lock (default 10s)',
      );
  }
  return command
    .option(
      '--dir <path>',
      'migrations directory (default: migrations of the config file, else ./migrations)',
    )
    .addOption(
      new Option('--layout <layout>', 'force the layout instead of detecting it').choices([
        ...MIGRATION_LAYOUTS,
      ]),
    )
    .option('--config <file>', 'config/plan file (default ./cutover.yaml when present)')
    .option('--json', 'print one JSON document on stdout');
}

function usage(message: string, hint: string): CutoverError {
  return new CutoverError('USAGE', 'usage', message, { hint });
}

function durationFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parseDuration(value);
  if (parsed === undefined) {
    throw usage(
      `${flag} "${value}" is not a duration.`,
      `Use a value such as 2s, 500ms or 1m, e.g. ${flag} 2s.`,
    );
  }
  return parsed;
}

/** Builds the Migrator from flags, config and environment (flags win over config). */
async function setup(
  ctx: CommandContext,
  flags: CommonFlags,
  options: { database: boolean },
): Promise<{ migrator: Migrator; config: MigrateConfig }> {
  const config = await loadMigrateConfig({ cwd: ctx.cwd, configFile: flags.config });
  let lockRetries = config.lockRetries;
  if (flags.lockRetries !== undefined) {
    if (!/^\d+$/.test(flags.lockRetries)) {
      throw usage(
        `--lock-retries must be a non-negative integer (got "${flags.lockRetries}").`,
        'e.g. --lock-retries 5',
      );
    }
    lockRetries = Number(flags.lockRetries);
  }
  const lockTimeoutMs = durationFlag(flags.lockTimeout, '--lock-timeout') ?? config.lockTimeoutMs;
  const statementTimeoutMs =
    durationFlag(flags.statementTimeout, '--statement-timeout') ?? config.statementTimeoutMs;
  const lockWaitMs = durationFlag(flags.lockWait, '--lock-wait') ?? config.lockWaitMs;
  const dir =
    flags.dir !== undefined
      ? resolve(ctx.cwd, flags.dir)
      : (config.dir ?? resolve(ctx.cwd, 'migrations'));
  const layout = flags.layout ?? config.layout;
  // `create` needs no database; the Migrator still wants a URL it never opens.
  let databaseUrl = 'postgres://localhost/unused';
  if (options.database) {
    const envUrl = process.env.DATABASE_URL;
    const configured =
      flags.databaseUrl === undefined && (envUrl === undefined || envUrl === '')
        ? await resolveConfiguredDatabase(config)
        : undefined;
    databaseUrl = await ctx.databaseUrl({ flag: flags.databaseUrl, configured });
  }
  const migratorOptions: MigratorOptions = {
    databaseUrl,
    dir,
    cwd: ctx.cwd,
    ...(layout === undefined ? {} : { layout }),
    ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }),
    ...(statementTimeoutMs === undefined ? {} : { statementTimeoutMs }),
    ...(lockRetries === undefined ? {} : { lockRetries }),
    ...(lockWaitMs === undefined ? {} : { lockWaitMs }),
    allowOutOfOrder: flags.allowOutOfOrder === true || config.allowOutOfOrder === true,
    onEvent: (event) => {
      if (!ctx.json) printEvent(ctx, event);
    },
  };
  const migrator = new Migrator(migratorOptions);
  ctx.onCleanup(() => migrator.close());
  return { migrator, config };
}

/** Prints the JSON document or the text, then the error; returns the exit code. */
function finish(ctx: CommandContext, set: MigrationResultSet, printText: () => void): number {
  if (ctx.json) {
    ctx.printJson({
      ok: set.error === undefined,
      results: set.results.map(resultJson),
      ...(set.error === undefined ? {} : { error: set.error.toJSON() }),
    });
    return set.error === undefined ? EXIT.ok : exitCodeFor(set.error.category);
  }
  printText();
  return set.error === undefined ? EXIT.ok : reportError(ctx, set.error);
}

function resultJson(r: MigrationResult): Record<string, unknown> {
  const { error, ...rest } = r;
  return error === undefined ? rest : { ...rest, error: error.toJSON() };
}

function printEvent(ctx: CommandContext, event: MigrateEvent): void {
  switch (event.type) {
    case 'lock-wait': {
      const holders = event.holders
        .map(
          (h) =>
            `pid ${h.pid} ("${h.applicationName}"${h.clientAddress === null ? '' : ` from ${h.clientAddress}`}${h.since === null ? '' : ` since ${h.since.toISOString()}`})`,
        )
        .join(', ');
      ctx.err(
        `Waiting up to ${(event.lockWaitMs / 1000).toFixed(1)} s for the migration lock, held by ${holders || 'another session'}…`,
      );
      break;
    }
    case 'migration-start': {
      const verb = event.direction === 'up' ? 'Applying' : 'Reverting';
      const where = event.transactional
        ? ''
        : ` — outside a transaction (${event.nonTransactionalReason ?? 'non-transactional'}), statement by statement with a checkpoint`;
      ctx.out(`${verb} ${event.version ?? '(repeatable)'} ${event.name}${where}`);
      break;
    }
    case 'migration-resume':
      ctx.out(
        `  resuming at statement ${event.statementIndex + 1} of ${event.statementCount} (the earlier ones were applied by a previous run)`,
      );
      break;
    case 'invalid-index-dropped':
      ctx.out(
        `  dropped INVALID index ${event.index} left by an earlier failed CONCURRENTLY build; building it again`,
      );
      break;
    case 'lock-timeout-retry': {
      const blockers =
        event.blockers.length > 0
          ? `; blocked by ${event.blockers.map((b) => `pid ${b.pid} (${b.state ?? '?'})`).join(', ')}`
          : '';
      ctx.err(
        `  lock_timeout hit (retry ${event.retry}/${event.maxRetries} in ${event.delayMs} ms)${blockers}`,
      );
      break;
    }
    case 'migration-end': {
      const r = event.result;
      if (r.status === 'applied' || r.status === 'reverted') {
        ctx.out(
          `  ${r.status} in ${r.durationMs} ms${r.attempts > 1 ? ` after ${r.attempts} attempts` : ''}`,
        );
      } else if (r.status === 'failed') {
        ctx.out(`  FAILED after ${r.durationMs} ms`);
      }
      break;
    }
    case 'warning':
      ctx.err(`warning: ${event.message}`);
      break;
    case 'lock-acquired':
    case 'statement-start':
      break;
  }
}

function printSummary(
  ctx: CommandContext,
  set: MigrationResultSet,
  direction: 'up' | 'down',
): void {
  if (set.results.length === 0) {
    if (set.error === undefined) {
      ctx.out(
        direction === 'up' ? 'Nothing to apply: the database is up to date.' : 'Nothing to revert.',
      );
    }
    return;
  }
  const done = set.results.filter(
    (r) => r.status === (direction === 'up' ? 'applied' : 'reverted'),
  ).length;
  const pending = set.results.filter((r) => r.status === 'pending').length;
  const verb = direction === 'up' ? 'applied' : 'reverted';
  ctx.out(
    `${done} migration${done === 1 ? '' : 's'} ${verb}${pending > 0 ? `, ${pending} not run` : ''}.`,
  );
}

function printDryRun(ctx: CommandContext, set: MigrationResultSet): void {
  if (set.results.length === 0) {
    // With an error (e.g. a file that does not parse) the error line says it all.
    if (set.error === undefined) ctx.out('Dry run: nothing to apply, the database is up to date.');
    return;
  }
  const n = set.results.length;
  ctx.out(`Dry run: ${n} pending migration${n === 1 ? '' : 's'}; nothing is applied.`);
  for (const r of set.results) {
    ctx.out('');
    ctx.out(`${r.version ?? '(repeatable)'} ${r.name}  ${show(ctx, r.file)}`);
    ctx.out(
      r.transactional
        ? '  runs in one transaction'
        : `  runs OUTSIDE a transaction, statement by statement with a checkpoint: ${r.nonTransactionalReason ?? ''}`,
    );
    if (r.statements === undefined) {
      ctx.out('  TypeScript migration: its statements are known only when it runs.');
      continue;
    }
    if (r.statements.length === 0) ctx.out('  (no statements)');
    for (const s of r.statements) printStatement(ctx, s);
  }
}

function printStatement(ctx: CommandContext, s: StatementReport): void {
  ctx.out(`  [${s.index + 1}] ${s.location}`);
  for (const line of s.sql.split(/\r?\n/)) ctx.out(`      ${line}`);
  const tables =
    s.tableEstimates.length === 0
      ? ''
      : ` on ${s.tableEstimates
          .map(
            (t) =>
              `${t.table} (${t.exists ? (t.estimatedRows === null ? 'rows unknown: never analyzed' : `~${t.estimatedRows.toLocaleString('en-US')} rows`) : 'new table'})`,
          )
          .join(', ')}`;
  ctx.out(
    `      lock: ${s.lock}${tables} · ${s.rewrites ? 'REWRITES the table' : 'no table rewrite'} · ${s.blocks}`,
  );
  for (const note of s.notes) ctx.out(`      note: ${note}`);
  if (s.advice !== undefined) ctx.out(`      advice: ${s.advice}`);
}

function stateText(e: MigrationStatusEntry): string {
  if (e.state === 'pending') {
    if (e.partial !== undefined) {
      return `pending (stopped after ${e.partial.statementsDone} statements)`;
    }
    if (e.outOfOrder === true) return 'pending (out of order)';
    if (e.changed === true) return 'pending (changed)';
  }
  if (e.source !== undefined && e.source !== 'cutover' && e.state !== 'baseline') {
    return `${e.state} (${e.source})`;
  }
  return e.state;
}

function show(ctx: CommandContext, file: string): string {
  const rel = relative(ctx.cwd, file);
  return rel === '' || rel.startsWith('..') ? file : rel;
}
