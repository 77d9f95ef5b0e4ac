import type pg from 'pg';
import { z } from 'zod';
import { isDatabaseError } from '../db/index.js';
import { CutoverError } from '../errors/index.js';
import { durationSchema, formatDuration } from '../plan/duration.js';
import type { StepContext, StepKind } from './step-kind.js';

/** Spec of a `sql` step. */
export interface SqlSpec {
  /** SQL run when the step applies (one transaction; several statements allowed). */
  up: string;
  /** SQL run when the step is compensated (one transaction). Without it, rollback refuses. */
  down?: string;
  /** `lock_timeout` for the transaction, ms (written like `2s`). Default 2 000. */
  lockTimeout: number;
  /** `statement_timeout` for the transaction, ms. Default: the server's. */
  statementTimeout?: number;
}

/** Output of a `sql` step. */
export interface SqlOutput {
  applied: true;
}

interface SqlCheckpoint {
  /** The `up` transaction committed (written in that transaction). */
  applied?: boolean;
  /** The `down` transaction committed (written in that transaction). */
  compensated?: boolean;
}

/**
 * `sql: { up, down? }` — runs `up` in one transaction with `lock_timeout`
 * (default 2 s). Exactly once across crashes: a marker is committed in the
 * step's checkpoint in the same transaction, so a resumed run does not run it
 * again. Compensation runs `down` the same way; without `down`, rollback
 * refuses before changing anything (`COMPENSATION_IMPOSSIBLE`). For statements
 * that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`) use a
 * migration instead.
 */
export function createSqlStepKind(): StepKind<SqlSpec, SqlOutput> {
  return {
    name: 'sql',
    schema: z.strictObject({
      up: z.string().trim().min(1, { error: 'expected SQL' }),
      down: z.string().trim().min(1, { error: 'expected SQL' }).optional(),
      lockTimeout: durationSchema().default(2_000),
      statementTimeout: durationSchema().optional(),
    }),
    describe(spec) {
      return Promise.resolve({
        summary: `Run SQL in one transaction (lock_timeout ${formatDuration(spec.lockTimeout)}): ${oneLine(spec.up)}`,
        compensation:
          spec.down === undefined
            ? 'none: no `down` — rollback refuses once this step has run'
            : `run \`down\`: ${oneLine(spec.down)}`,
      });
    },
    async apply(spec, ctx) {
      const checkpoint = await ctx.checkpoint.load<SqlCheckpoint>();
      if (checkpoint?.applied === true) return { applied: true };
      await runInTransaction(ctx, spec, spec.up, 'up', { applied: true });
      return { applied: true };
    },
    async checkCompensation(spec, _output, ctx) {
      const checkpoint = await ctx.checkpoint.load<SqlCheckpoint>();
      if (
        checkpoint?.applied === true &&
        checkpoint.compensated !== true &&
        spec.down === undefined
      ) {
        throw noDown();
      }
    },
    async compensate(spec, _output, ctx) {
      const checkpoint = await ctx.checkpoint.load<SqlCheckpoint>();
      if (checkpoint?.applied !== true || checkpoint.compensated === true) return;
      if (spec.down === undefined) throw noDown();
      await runInTransaction(ctx, spec, spec.down, 'down', { applied: true, compensated: true });
    },
  };
}

async function runInTransaction(
  ctx: StepContext,
  spec: SqlSpec,
  sql: string,
  direction: 'up' | 'down',
  marker: SqlCheckpoint,
): Promise<void> {
  const client: pg.PoolClient = await ctx.pool.connect();
  try {
    await client.query('begin');
    await client.query(`select set_config('lock_timeout', $1, true)`, [`${spec.lockTimeout}ms`]);
    if (spec.statementTimeout !== undefined) {
      await client.query(`select set_config('statement_timeout', $1, true)`, [
        `${spec.statementTimeout}ms`,
      ]);
    }
    try {
      await client.query(sql);
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      if (!isDatabaseError(error)) throw error;
      throw new CutoverError(
        'SQL_STEP_FAILED',
        'failed',
        `The \`${direction}\` SQL of step ${ctx.stepId} failed: ${error.message} (SQLSTATE ${error.code ?? '?'}).`,
        {
          location: ctx.stepId,
          hint:
            error.code === '55P03'
              ? 'A lock was not granted within lock_timeout: retry when the blocking session is done, or raise `lockTimeout`.'
              : 'Fix the SQL in the plan; the transaction was rolled back, nothing was changed.',
          details: { sqlstate: error.code, position: error.position },
          cause: error,
        },
      );
    }
    await ctx.checkpoint.save(marker, client);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function noDown(): CutoverError {
  return new CutoverError(
    'COMPENSATION_IMPOSSIBLE',
    'refused',
    'the sql step has no `down` to undo its `up`',
    { hint: 'Add `down:` with SQL that undoes `up` to the step, or roll forward.' },
  );
}

function oneLine(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 97)}…` : flat;
}
