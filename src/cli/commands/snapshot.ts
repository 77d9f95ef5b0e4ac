import Table from 'cli-table3';
import type { Command } from 'commander';
import { connect } from '../../db/index.js';
import { dropSnapshot, listSnapshots, restoreSnapshot } from '../../data/index.js';
import type { CommandContext } from '../command-context.js';
import { confirmAction, interruptSignal } from '../confirm-action.js';
import { EXIT } from '../exit-codes.js';
import { loadMigrateConfig, resolveConfiguredDatabase } from '../migrate-config.js';
import { runCommand } from '../run-command.js';
import { tableOptions } from '../table-options.js';

interface Flags {
  databaseUrl?: string;
  config?: string;
  json?: boolean;
  yes?: boolean;
  table?: string[];
}

function common(command: Command): Command {
  return command
    .option(
      '--database-url <url>',
      'PostgreSQL URL (default: DATABASE_URL, the config file, else the embedded PostgreSQL in .cutover/pg)',
    )
    .option('--config <file>', 'config/plan file with `database` (default ./cutover.yaml)')
    .option('--json', 'print one JSON document');
}

/** Opens a pool on the command's database (closed when the command ends). */
async function commandPool(ctx: CommandContext, flags: Flags) {
  const envUrl = process.env.DATABASE_URL;
  const configured =
    flags.databaseUrl === undefined && (envUrl === undefined || envUrl === '')
      ? await resolveConfiguredDatabase(
          await loadMigrateConfig({ cwd: ctx.cwd, configFile: flags.config }),
        )
      : undefined;
  const url = await ctx.databaseUrl({ flag: flags.databaseUrl, configured });
  const pool = await connect(url);
  ctx.onCleanup(() => pool.end());
  return { pool, url };
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 'B';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/**
 * `cutover snapshot list|restore|drop`: the in-database snapshots taken by
 * `snapshot` steps (schema `cutover_snapshots`).
 */
export function registerSnapshot(program: Command): void {
  const snapshot = program
    .command('snapshot')
    .description(
      'List, restore and drop in-database snapshots (consistent copies of tables in schema cutover_snapshots, taken by `snapshot` steps).',
    );

  common(snapshot.command('list'))
    .description('List snapshots: id, run, step, when, tables with row counts, size.')
    .action(async (flags: Flags) => {
      await runCommand(flags, async (ctx) => {
        const { pool } = await commandPool(ctx, flags);
        const snapshots = await listSnapshots(pool);
        if (ctx.json) {
          ctx.printJson({ ok: true, snapshots });
          return EXIT.ok;
        }
        if (snapshots.length === 0) {
          ctx.out('No snapshots. A plan takes one with a step `snapshot: { tables: [...] }`.');
          return EXIT.ok;
        }
        const table = new Table(
          tableOptions(['id', 'run', 'step', 'taken at', 'tables (rows)', 'size']),
        );
        for (const s of snapshots) {
          table.push([
            s.id,
            s.runId.slice(0, 8),
            s.stepId,
            s.createdAt,
            s.tables.map((t) => `${t.table} (${t.rows})`).join('\n'),
            formatBytes(s.bytes),
          ]);
        }
        ctx.out(table.toString());
        return EXIT.ok;
      });
    });

  common(snapshot.command('restore').argument('<id>', 'snapshot id (see `cutover snapshot list`)'))
    .description(
      'Restore the tables of a snapshot in one transaction (they are locked while restoring; sequences are reset). Asks for confirmation.',
    )
    .option('--table <name...>', 'restore only these tables of the snapshot')
    .option('--yes', 'do not ask for confirmation')
    .action(async (id: string, flags: Flags) => {
      await runCommand(flags, async (ctx) => {
        const { pool } = await commandPool(ctx, flags);
        const what = flags.table === undefined ? 'all its tables' : flags.table.join(', ');
        if (
          !(await confirmAction(
            ctx,
            `Restore ${what} from snapshot ${id}, replacing their current rows?`,
            flags.yes,
          ))
        ) {
          ctx.err('Nothing restored.');
          return EXIT.refused;
        }
        const interrupt = interruptSignal(
          ctx,
          'cancelling the restore (its transaction rolls back).',
        );
        try {
          const result = await restoreSnapshot(pool, id, {
            ...(flags.table === undefined ? {} : { tables: flags.table }),
            signal: interrupt.signal,
          });
          if (ctx.json) ctx.printJson({ ok: true, ...result });
          else {
            for (const t of result.tables) ctx.out(`Restored ${t.table}: ${t.rows} rows`);
            if (result.sequences.length > 0)
              ctx.out(`Sequences reset: ${result.sequences.join(', ')}`);
          }
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

  common(snapshot.command('drop').argument('<id>', 'snapshot id (see `cutover snapshot list`)'))
    .description('Drop a snapshot: its copies and its record. A rollback can no longer restore it.')
    .option('--yes', 'do not ask for confirmation')
    .action(async (id: string, flags: Flags) => {
      await runCommand(flags, async (ctx) => {
        const { pool } = await commandPool(ctx, flags);
        if (!(await confirmAction(ctx, `Drop snapshot ${id}?`, flags.yes))) {
          ctx.err('Nothing dropped.');
          return EXIT.refused;
        }
        const dropped = await dropSnapshot(pool, id);
        if (ctx.json) ctx.printJson({ ok: true, dropped });
        else
          ctx.out(
            `Dropped snapshot ${dropped.id} (${dropped.tables.map((t) => t.table).join(', ')}).`,
          );
        return EXIT.ok;
      });
    });
}
