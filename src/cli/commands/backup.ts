import { join, relative, resolve } from 'node:path';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { createBackup, listBackups, restoreBackup } from '../../data/index.js';
import type { CommandContext } from '../command-context.js';
import { confirmAction, interruptSignal } from '../confirm-action.js';
import { EXIT } from '../exit-codes.js';
import { loadMigrateConfig, resolveConfiguredDatabase } from '../migrate-config.js';
import { runCommand } from '../run-command.js';
import { tableOptions } from '../table-options.js';

interface Flags {
  databaseUrl?: string;
  config?: string;
  dir?: string;
  json?: boolean;
  yes?: boolean;
  clean?: boolean;
  includeCutoverSchemas?: boolean;
}

function backupDir(ctx: CommandContext, flags: Flags): string {
  return flags.dir === undefined
    ? join(ctx.cwd, '.cutover', 'backups')
    : resolve(ctx.cwd, flags.dir);
}

async function databaseUrl(ctx: CommandContext, flags: Flags): Promise<string> {
  const envUrl = process.env.DATABASE_URL;
  const configured =
    flags.databaseUrl === undefined && (envUrl === undefined || envUrl === '')
      ? await resolveConfiguredDatabase(
          await loadMigrateConfig({ cwd: ctx.cwd, configFile: flags.config }),
        )
      : undefined;
  return ctx.databaseUrl({ flag: flags.databaseUrl, configured });
}

function withDatabase(command: Command): Command {
  return command
    .option(
      '--database-url <url>',
      'PostgreSQL URL (default: DATABASE_URL, the config file, else the embedded PostgreSQL in .cutover/pg)',
    )
    .option('--config <file>', 'config/plan file with `database` (default ./cutover.yaml)');
}

function common(command: Command): Command {
  return command
    .option('--dir <path>', 'backup directory (default .cutover/backups)')
    .option('--json', 'print one JSON document');
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * `cutover backup list|create|restore`: full `pg_dump` backups (custom format)
 * in `.cutover/backups`, taken by `backup` steps or by hand.
 */
export function registerBackup(program: Command): void {
  const backup = program
    .command('backup')
    .description(
      'List, take and restore full backups (pg_dump --format=custom, verified with pg_restore --list) in .cutover/backups.',
    );

  common(backup.command('list'))
    .description('List backups: file, database, when, size, run and step that took it.')
    .action(async (flags: Flags) => {
      await runCommand(flags, async (ctx) => {
        const dir = backupDir(ctx, flags);
        const backups = await listBackups({ dir });
        if (ctx.json) {
          ctx.printJson({ ok: true, dir, backups });
          return EXIT.ok;
        }
        if (backups.length === 0) {
          ctx.out(`No backups in ${relative(ctx.cwd, dir) || dir}.`);
          return EXIT.ok;
        }
        const table = new Table(
          tableOptions(['file', 'database', 'taken at', 'size', 'run / step']),
        );
        for (const b of backups) {
          table.push([
            b.name,
            b.database ?? '',
            b.createdAt,
            mb(b.bytes),
            b.runId === undefined ? '' : `${b.runId.slice(0, 8)} / ${b.stepId ?? ''}`,
          ]);
        }
        ctx.out(table.toString());
        return EXIT.ok;
      });
    });

  withDatabase(common(backup.command('create')))
    .description(
      'Take a full backup now (pg_dump --format=custom), verified with pg_restore --list.',
    )
    .action(async (flags: Flags) => {
      await runCommand(flags, async (ctx) => {
        const url = await databaseUrl(ctx, flags);
        const interrupt = interruptSignal(ctx, 'stopping pg_dump; the partial file is removed.');
        try {
          const created = await createBackup({
            databaseUrl: url,
            dir: backupDir(ctx, flags),
            signal: interrupt.signal,
          });
          if (ctx.json) ctx.printJson({ ok: true, backup: created });
          else
            ctx.out(
              `Backup ${created.name}: ${mb(created.bytes)}, ${created.entries ?? 0} entries (pg_dump ${created.pgDumpVersion ?? ''}).`,
            );
          return EXIT.ok;
        } catch (error) {
          if (!interrupt.signal.aborted) throw error;
          if (ctx.json)
            ctx.printJson({
              ok: false,
              error: {
                code: 'INTERRUPTED',
                category: 'failed',
                message: 'Interrupted (Ctrl-C); nothing was changed.',
              },
            });
          else ctx.err('Interrupted (Ctrl-C); nothing was changed.');
          return EXIT.interrupted;
        } finally {
          interrupt.dispose();
        }
      });
    });

  withDatabase(
    common(
      backup
        .command('restore')
        .argument('<backup>', 'backup file name (see `cutover backup list`) or path'),
    ),
  )
    .description(
      "Restore a backup with pg_restore in one transaction: each object of the dump is dropped and recreated (objects created since are left alone); cutover's own schemas are skipped. Asks for confirmation.",
    )
    .option(
      '--no-clean',
      'do not drop objects before recreating them (restore into an empty database)',
    )
    .option(
      '--include-cutover-schemas',
      "also restore cutover's schemas (runs, audit log, snapshots) — rewinds the audit log",
    )
    .option('--yes', 'do not ask for confirmation')
    .action(async (name: string, flags: Flags) => {
      await runCommand(flags, async (ctx) => {
        const url = await databaseUrl(ctx, flags);
        if (
          !(await confirmAction(
            ctx,
            `Restore backup ${name} into the database, replacing the objects it holds?`,
            flags.yes,
          ))
        ) {
          ctx.err('Nothing restored.');
          return EXIT.refused;
        }
        const interrupt = interruptSignal(ctx, 'stopping pg_restore; its transaction rolls back.');
        try {
          const result = await restoreBackup({
            databaseUrl: url,
            backup: name,
            dir: backupDir(ctx, flags),
            clean: flags.clean !== false,
            includeCutoverSchemas: flags.includeCutoverSchemas === true,
            signal: interrupt.signal,
          });
          if (ctx.json) ctx.printJson({ ok: true, ...result });
          else
            ctx.out(
              `Restored ${result.entries} entries from ${result.file}${result.skipped > 0 ? ` (${result.skipped} of cutover's own schemas skipped)` : ''}.`,
            );
          return EXIT.ok;
        } catch (error) {
          if (!interrupt.signal.aborted) throw error;
          if (ctx.json)
            ctx.printJson({
              ok: false,
              error: {
                code: 'INTERRUPTED',
                category: 'failed',
                message: 'Interrupted (Ctrl-C); nothing was changed.',
              },
            });
          else ctx.err('Interrupted (Ctrl-C); nothing was changed.');
          return EXIT.interrupted;
        } finally {
          interrupt.dispose();
        }
      });
    });
}
