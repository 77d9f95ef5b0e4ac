import { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import {
  estimateBackfillRows,
  getSnapshot,
  resolveTable,
  restoreSnapshot,
  takeSnapshot,
  type SnapshotInfo,
} from '../data/index.js';
import type { StepContext, StepKind } from './step-kind.js';

/** Spec of a `snapshot` step: `snapshot: { tables: [orders, order_items] }`. */
export interface SnapshotSpec {
  /** Tables to copy (`name` or `schema.name`). */
  tables: string[];
}

/** Output of a `snapshot` step. */
export interface SnapshotOutput {
  /** Snapshot id (for `cutover snapshot restore|drop`). */
  snapshotId: string;
  /** Tables copied (`schema.name`) with their row counts. */
  tables: { table: string; rows: number }[];
  /** Size of the copies in bytes. */
  bytes: number;
}

async function findOwnSnapshot(ctx: StepContext): Promise<SnapshotInfo | undefined> {
  try {
    return await getSnapshot(ctx.pool, { runId: ctx.runId, stepId: ctx.stepId });
  } catch (error) {
    if (error instanceof CutoverError && error.code === 'SNAPSHOT_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * `snapshot: { tables }` — a consistent in-database copy of the tables (one
 * REPEATABLE READ transaction) into schema `cutover_snapshots` (see
 * `takeSnapshot`). The copy's metadata row is its completion marker, so a
 * resumed run does not copy again. Compensation restores every table of the
 * snapshot in one transaction (see `restoreSnapshot`); a snapshot that never
 * completed has nothing to restore. Snapshots are kept after the run: drop
 * them with `cutover snapshot drop <id>`.
 */
export function createSnapshotStepKind(): StepKind<SnapshotSpec, SnapshotOutput> {
  return {
    name: 'snapshot',
    schema: z.strictObject({
      tables: z
        .array(z.string().trim().min(1, { error: 'expected a table name' }))
        .min(1, { error: 'expected at least one table' }),
    }),
    async describe(spec, ctx) {
      const details: string[] = [];
      for (const name of spec.tables) {
        try {
          const table = await resolveTable(ctx.pool, name);
          const rows = await estimateBackfillRows(ctx.pool, table);
          details.push(
            `${table.qualified}: ${rows === undefined ? 'row count unknown (never analyzed)' : `~${rows} rows (pg_class.reltuples)`}`,
          );
        } catch {
          details.push(`${name}: does not exist yet`);
        }
      }
      return {
        summary: `Copy ${spec.tables.join(', ')} into schema cutover_snapshots in one REPEATABLE READ transaction (writers are not blocked).`,
        details,
        compensation:
          'restore the tables from the copy in one transaction (locks them ACCESS EXCLUSIVE while restoring; sequences reset)',
      };
    },
    async apply(spec, ctx) {
      ctx.progress({ done: 0, total: spec.tables.length, unit: 'tables' });
      const snapshot = await takeSnapshot(ctx.pool, {
        tables: spec.tables,
        runId: ctx.runId,
        stepId: ctx.stepId,
        signal: ctx.signal,
      });
      ctx.progress({ done: spec.tables.length, total: spec.tables.length, unit: 'tables' });
      const output: SnapshotOutput = {
        snapshotId: snapshot.id,
        tables: snapshot.tables.map((t) => ({ table: t.table, rows: t.rows })),
        bytes: snapshot.bytes,
      };
      await ctx.log(snapshot.existing ? 'snapshot.reused' : 'snapshot.taken', { ...output });
      return output;
    },
    async checkCompensation(_spec, output, ctx) {
      if (output === undefined) return;
      // Completed: its copy must still be there.
      try {
        await getSnapshot(ctx.pool, output.snapshotId);
      } catch (error) {
        if (error instanceof CutoverError && error.code === 'SNAPSHOT_NOT_FOUND') {
          throw new CutoverError(
            'COMPENSATION_IMPOSSIBLE',
            'refused',
            `snapshot ${output.snapshotId} was dropped, so its tables cannot be restored`,
            {
              hint: 'Restore the tables from a backup (`cutover backup restore`), or roll forward.',
            },
          );
        }
        throw error;
      }
    },
    async compensate(_spec, output, ctx) {
      const snapshot =
        output === undefined
          ? await findOwnSnapshot(ctx)
          : await getSnapshot(ctx.pool, output.snapshotId);
      if (snapshot === undefined) return; // never completed: nothing was copied, nothing changed
      const restored = await restoreSnapshot(ctx.pool, snapshot.id, { signal: ctx.signal });
      await ctx.log('snapshot.restored', { snapshotId: snapshot.id, ...restored });
    },
  };
}
