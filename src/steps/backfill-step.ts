import { resolve } from 'node:path';
import { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import {
  estimateBackfillRows,
  findCoveredTable,
  getSnapshot,
  loadBackfillModule,
  planBackfill,
  restoreSnapshot,
  revertBackfill,
  runBackfill,
  type BackfillCursor,
  type BackfillModule,
  type BackfillOptions,
  type BackfillResult,
  type BackfillSource,
  type InlineBackfill,
} from '../data/index.js';
import { durationSchema, formatDuration } from '../plan/duration.js';
import type { StepCheckpoint, StepContext, StepKind } from './step-kind.js';

/**
 * Spec of a `backfill` step: either `{ module }` (a TypeScript module, path
 * relative to the plan) or an inline column update `{ table, set, where?, key? }`,
 * with tuning common to both.
 */
export interface BackfillSpec {
  /** Path of the backfill module (see `BackfillModule`). */
  module?: string;
  /** Inline: the table to update. */
  table?: string;
  /** Inline: SQL `SET` list, or column → SQL expression. */
  set?: string | Record<string, string>;
  /** Inline: SQL condition selecting the rows to update. */
  where?: string;
  /** Inline: keyset key (default the primary key). */
  key?: string | string[];
  /** First batch size in rows (the size then adapts). Default the module's, else 1 000. */
  batchSize?: number;
  /** Target batch duration, ms (`200ms`, `1s`). Default 200. 0 keeps the size fixed. */
  targetBatchMs?: number;
  /** Largest batch, rows. Default 100 000. */
  maxBatchSize?: number;
  /** Pause between batches, ms. Default 0. */
  pauseMs?: number;
  /** `lock_timeout` of each batch, ms. Default 2 000. */
  lockTimeoutMs?: number;
}

/** Output of a `backfill` step. */
export interface BackfillOutput {
  /** Source table, `schema.name`. */
  table: string;
  /** Rows processed (including before a resume). */
  rows: number;
  /** Rows changed by an inline update. */
  written?: number;
  batches: number;
  /** Duration of the last (resumed) attempt, ms. */
  durationMs: number;
  /** Batch durations (ms) of the last attempt. */
  batchMs?: { p50: number; p99: number; max: number };
  /** The snapshot that covers the tables written, when one was taken before (used by compensation without `revert`). */
  coveringSnapshot?: string;
  warnings: string[];
}

/** The step's checkpoint: the engine's cursor plus what compensation needs. */
interface BackfillStepCheckpoint {
  cursor?: BackfillCursor;
  /** Snapshot (id) covering every written table, found among the steps completed before. */
  coveringSnapshot?: string | null;
}

const positiveInt = z
  .number()
  .int({ error: 'expected a positive integer' })
  .positive({ error: 'expected a positive integer' });
const nonEmpty = z.string().trim().min(1, { error: 'expected a non-empty string' });

const backfillSchema = z
  .strictObject({
    module: nonEmpty.optional(),
    table: nonEmpty.optional(),
    set: z
      .union([nonEmpty, z.record(z.string(), nonEmpty)], {
        error: 'expected a SET list or a mapping of column to SQL expression',
      })
      .optional(),
    where: nonEmpty.optional(),
    key: z.union([nonEmpty, z.array(nonEmpty).min(1)]).optional(),
    batchSize: positiveInt.optional(),
    targetBatchMs: durationSchema().optional(),
    maxBatchSize: positiveInt.optional(),
    pauseMs: durationSchema().optional(),
    lockTimeoutMs: durationSchema().optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.module !== undefined) {
      for (const key of ['table', 'set', 'where', 'key'] as const) {
        if (spec[key] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `not allowed with module (the module declares its ${key})`,
          });
        }
      }
    } else {
      if (spec.table === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['table'],
          message: 'expected `module`, or `table` and `set` for an inline update',
        });
      }
      if (spec.set === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['set'],
          message: 'expected the SET list of the update',
        });
      }
    }
  });

async function sourceOf(spec: BackfillSpec, planDir: string): Promise<BackfillSource> {
  if (spec.module !== undefined) return loadBackfillModule(resolve(planDir, spec.module));
  const inline: InlineBackfill = { table: spec.table ?? '', set: spec.set ?? '' };
  if (spec.where !== undefined) inline.where = spec.where;
  if (spec.key !== undefined) inline.key = spec.key;
  return inline;
}

function writesOf(source: BackfillSource): string[] {
  if ('transform' in source) return [...(source.writes ?? [source.table])];
  return [source.table];
}

function hasRevert(source: BackfillSource): source is BackfillModule & {
  revert: NonNullable<BackfillModule['revert']>;
} {
  return 'transform' in source && typeof source.revert === 'function';
}

/** A snapshot among `ctx.completedSteps` whose copy covers every table in `writes`. */
async function coveringSnapshot(
  ctx: StepContext,
  writes: readonly string[],
): Promise<string | undefined> {
  for (const step of [...ctx.completedSteps].reverse()) {
    if (step.kind !== 'snapshot') continue;
    const id = (step.output as { snapshotId?: unknown } | undefined)?.snapshotId;
    if (typeof id !== 'string') continue;
    let snapshot;
    try {
      snapshot = await getSnapshot(ctx.pool, id);
    } catch {
      continue;
    }
    let covers = true;
    for (const table of writes) {
      if ((await findCoveredTable(ctx.pool, snapshot, table)) === undefined) covers = false;
    }
    if (covers) return id;
  }
  return undefined;
}

function engineOptions(
  spec: BackfillSpec,
  ctx: StepContext,
  checkpoint: StepCheckpoint,
): BackfillOptions {
  let lastLog = ctx.clock.now();
  return {
    signal: ctx.signal,
    clock: ctx.clock,
    checkpoint,
    ...(spec.batchSize === undefined ? {} : { batchSize: spec.batchSize }),
    ...(spec.targetBatchMs === undefined ? {} : { targetBatchMs: spec.targetBatchMs }),
    ...(spec.maxBatchSize === undefined ? {} : { maxBatchSize: spec.maxBatchSize }),
    ...(spec.pauseMs === undefined ? {} : { pauseMs: spec.pauseMs }),
    ...(spec.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: spec.lockTimeoutMs }),
    onProgress: (p) =>
      ctx.progress({
        done: p.done,
        unit: 'rows',
        ...(p.total === undefined ? {} : { total: p.total }),
        ...(p.ratePerSecond === undefined ? {} : { ratePerSecond: p.ratePerSecond }),
      }),
    onBatch: async (b) => {
      // One audit event per 10 s of batches, not per batch.
      if (ctx.clock.now() - lastLog < 10_000) return;
      lastLog = ctx.clock.now();
      await ctx.log('backfill.progress', {
        batch: b.batch,
        after: b.after,
        nextBatchSize: b.nextBatchSize,
      });
    },
  };
}

function checkpointAdapter(
  ctx: StepContext,
  meta: Omit<BackfillStepCheckpoint, 'cursor'>,
): StepCheckpoint {
  return {
    async load<T>() {
      return (await ctx.checkpoint.load<BackfillStepCheckpoint>())?.cursor as T | undefined;
    },
    async save<T>(value: T, client?: Parameters<StepCheckpoint['save']>[1]) {
      await ctx.checkpoint.save<BackfillStepCheckpoint>(
        { ...meta, cursor: value as BackfillCursor },
        client,
      );
    },
  };
}

function toOutput(result: BackfillResult, covering: string | undefined): BackfillOutput {
  return {
    table: result.table,
    rows: result.rows,
    ...(result.written === undefined ? {} : { written: result.written }),
    batches: result.batches,
    durationMs: result.durationMs,
    ...(result.batchMs === undefined ? {} : { batchMs: result.batchMs }),
    ...(covering === undefined ? {} : { coveringSnapshot: covering }),
    warnings: result.warnings,
  };
}

function impossible(source: BackfillSource, writes: readonly string[]): CutoverError {
  return new CutoverError(
    'COMPENSATION_IMPOSSIBLE',
    'refused',
    `the backfill of ${source.table} has no revert, and no snapshot taken before it covers ${writes.join(', ')}`,
    {
      hint:
        'transform' in source
          ? 'Add revert(rows, { client }) to the backfill module, or take a snapshot of the written tables before the backfill (and name them in `writes`).'
          : 'Add a `snapshot: { tables: [...] }` step covering the table before the backfill, or roll forward.',
    },
  );
}

/** Which compensation applies: `revert`, a snapshot restore, or none. */
async function compensationFor(
  source: BackfillSource,
  output: BackfillOutput | undefined,
  ctx: StepContext,
): Promise<{ kind: 'revert' } | { kind: 'snapshot'; id: string } | { kind: 'none' }> {
  if (hasRevert(source)) return { kind: 'revert' };
  const saved = await ctx.checkpoint.load<BackfillStepCheckpoint>();
  const id =
    output?.coveringSnapshot ??
    saved?.coveringSnapshot ??
    (await coveringSnapshot(ctx, writesOf(source)));
  return typeof id === 'string' ? { kind: 'snapshot', id } : { kind: 'none' };
}

/**
 * `backfill: { module } | { table, set, where?, key? }` plus tuning
 * (`batchSize`, `targetBatchMs`, `maxBatchSize`, `pauseMs`, `lockTimeoutMs`):
 * runs `runBackfill` with the step's checkpoint, so each batch commits its
 * keyset cursor with its data and a resumed run continues after the last
 * committed key. Progress (rows done / estimated total, rate) goes to
 * `ctx.progress`; an audit event at most every 10 s.
 *
 * Compensation, in this order: the module's `revert` (run like the backfill,
 * resumable); else a restore of the `writes` tables from a snapshot taken by
 * an earlier step of the run that covers them all; else the rollback refuses
 * (`COMPENSATION_IMPOSSIBLE`, refused) before changing anything.
 */
export function createBackfillStepKind(): StepKind<BackfillSpec, BackfillOutput> {
  return {
    name: 'backfill',
    schema: backfillSchema,
    async describe(spec, ctx) {
      const source = await sourceOf(spec, ctx.planDir);
      const details: string[] = [];
      try {
        const plan = await planBackfill(ctx.pool, source);
        const rows = await estimateBackfillRows(ctx.pool, plan.table, source.where);
        details.push(
          `rows: ${rows === undefined ? 'unknown (table never analyzed)' : `~${rows} (planner estimate from pg_class.reltuples)`}`,
          `keyset on (${plan.key.map((k) => k.name).join(', ')})`,
          ...plan.warnings,
        );
      } catch (error) {
        if (!(error instanceof CutoverError) || error.code !== 'TABLE_NOT_FOUND') throw error;
        details.push(`table ${source.table} does not exist yet (an earlier step must create it)`);
      }
      const target = spec.targetBatchMs ?? 200;
      const compensation = await compensationFor(source, undefined, ctx);
      const writes = writesOf(source);
      return {
        summary:
          'transform' in source
            ? `Backfill from ${source.table} with ${spec.module ?? 'a module'} (writes ${writes.join(', ')}), keyset batches of ~${formatDuration(target)} each.`
            : `Update ${source.table} set ${typeof source.set === 'string' ? source.set : JSON.stringify(source.set)}${source.where === undefined ? '' : ` where ${source.where}`}, keyset batches of ~${formatDuration(target)} each.`,
        details,
        compensation:
          compensation.kind === 'revert'
            ? 'run the module’s revert over every row, in batches'
            : compensation.kind === 'snapshot'
              ? `restore ${writes.join(', ')} from snapshot ${compensation.id}`
              : `restore ${writes.join(', ')} from a snapshot taken earlier in the run that covers them (rollback refuses without one)`,
      };
    },
    async apply(spec, ctx) {
      const source = await sourceOf(spec, ctx.planDir);
      const saved = await ctx.checkpoint.load<BackfillStepCheckpoint>();
      const covering =
        saved?.coveringSnapshot === undefined
          ? ((await coveringSnapshot(ctx, writesOf(source))) ?? null)
          : saved.coveringSnapshot;
      await ctx.log(saved?.cursor === undefined ? 'backfill.started' : 'backfill.resumed', {
        table: source.table,
        ...(saved?.cursor?.after == null
          ? {}
          : { after: saved.cursor.after, rowsDone: saved.cursor.rows }),
      });
      const result = await runBackfill(
        ctx.pool,
        source,
        engineOptions(spec, ctx, checkpointAdapter(ctx, { coveringSnapshot: covering })),
      );
      const output = toOutput(result, covering ?? undefined);
      await ctx.log('backfill.finished', { ...output });
      return output;
    },
    async checkCompensation(spec, output, ctx) {
      const source = await sourceOf(spec, ctx.planDir);
      const saved = await ctx.checkpoint.load<BackfillStepCheckpoint>();
      if (output === undefined && saved?.cursor === undefined) return; // nothing was written
      const plan = await compensationFor(source, output, ctx);
      if (plan.kind === 'none') throw impossible(source, writesOf(source));
      if (plan.kind === 'snapshot') {
        try {
          await getSnapshot(ctx.pool, plan.id);
        } catch {
          throw new CutoverError(
            'COMPENSATION_IMPOSSIBLE',
            'refused',
            `the backfill of ${source.table} has no revert and snapshot ${plan.id} covering it was dropped`,
            { hint: 'Restore from a backup (`cutover backup restore`), or roll forward.' },
          );
        }
      }
    },
    async compensate(spec, output, ctx) {
      const source = await sourceOf(spec, ctx.planDir);
      const saved = await ctx.checkpoint.load<BackfillStepCheckpoint>();
      if (output === undefined && saved?.cursor === undefined) return; // nothing was written
      const plan = await compensationFor(source, output, ctx);
      if (plan.kind === 'none') throw impossible(source, writesOf(source));
      if (plan.kind === 'revert' && hasRevert(source)) {
        const result = await revertBackfill(
          ctx.pool,
          source,
          engineOptions(
            spec,
            ctx,
            checkpointAdapter(ctx, { coveringSnapshot: saved?.coveringSnapshot ?? null }),
          ),
        );
        await ctx.log('backfill.reverted', {
          table: result.table,
          rows: result.rows,
          batches: result.batches,
        });
        return;
      }
      if (plan.kind === 'snapshot') {
        const restored = await restoreSnapshot(ctx.pool, plan.id, {
          tables: writesOf(source),
          signal: ctx.signal,
        });
        await ctx.log('backfill.restored', { snapshotId: plan.id, tables: restored.tables });
      }
    },
  };
}
