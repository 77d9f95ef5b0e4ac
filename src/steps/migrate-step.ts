import { resolve } from 'node:path';
import { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import { compareVersions, loadMigrations } from '../migrate/index.js';
import { Migrator, type MigratorOptions } from '../migrate/migrator.js';
import type { MigrateEvent, MigrationResult, StatementReport } from '../migrate/migrator-types.js';
import type { PlanMigrations } from '../plan/plan-types.js';
import type { StepContext, StepKind } from './step-kind.js';

/** Spec of a `migrate` step: `migrate: { to: "0002" }`. */
export interface MigrateSpec {
  /** Apply pending migrations up to and including this version. */
  to: string;
}

/** Output of a `migrate` step. */
export interface MigrateOutput {
  /** The newest applied version before the step (null: none). Compensation migrates down to it. */
  from: string | null;
  to: string;
  /** Versions this run applied (recorded with the run id in `cutover.schema_migrations`). */
  applied: string[];
}

interface MigrateCheckpoint {
  from: string | null;
}

/** Options of {@link createMigrateStepKind}. */
export interface MigrateStepKindOptions {
  /** Extra Migrator options (e.g. retry delays in tests); the plan's `migrations` settings win. */
  migrator?: Partial<MigratorOptions>;
}

/**
 * `migrate: { to }` — applies pending migrations of the plan's `migrations`
 * directory (default `<plan dir>/migrations`) up to version `to` with the
 * migration engine (one transaction per migration, `lock_timeout` with
 * retries, the advisory lock), recording the run id with each migration.
 *
 * - Before applying, the newest applied version is persisted in the step's
 *   checkpoint (`from`), so a resumed step — whose migrations may be half
 *   applied — still knows where it started; re-applying is a no-op for the
 *   migrations the history table already has.
 * - Compensation: migrate down to `from` (the version before the step), with
 *   the down scripts. Pre-flight: refuses before any rollback starts when a
 *   migration to revert has no down script.
 * - A stop request stops between migrations.
 */
export function createMigrateStepKind(
  options: MigrateStepKindOptions = {},
): StepKind<MigrateSpec, MigrateOutput> {
  const open = (ctx: StepContext, onEvent?: (event: MigrateEvent) => void): Migrator =>
    new Migrator({
      ...options.migrator,
      ...migratorSettings(settingsOf(ctx)),
      pool: ctx.pool,
      runId: ctx.runId,
      appliedBy: ctx.actor,
      cwd: ctx.planDir,
      clock: ctx.clock,
      applicationName: 'cutover run',
      ...(onEvent ? { onEvent } : {}),
    });
  return {
    name: 'migrate',
    schema: z.strictObject({
      to: z
        .union([z.string().min(1), z.number().int().nonnegative()], {
          error: 'expected a migration version like "0002"',
        })
        .transform(String),
    }),
    async describe(spec, ctx) {
      const migrator = open(ctx);
      try {
        const status = await migrator.status();
        const set = await migrator.up({ to: spec.to, dryRun: true });
        if (set.error) throw set.error;
        const layout = status.layout ?? settingsOf(ctx).layout ?? 'native';
        // Earlier migrate steps of the plan will have run by then.
        const earlier = ctx.completedSteps
          .filter((step) => step.kind === 'migrate')
          .map((step) => (step.spec as MigrateSpec).to)
          .filter(
            (to) => status.current === undefined || compareVersions(to, status.current, layout) > 0,
          )
          .at(-1);
        const current = earlier ?? status.current ?? null;
        const pending = set.results.filter(
          (r) =>
            r.status === 'dry-run' &&
            (earlier === undefined ||
              r.version === undefined ||
              compareVersions(r.version, earlier, layout) > 0),
        );
        return {
          summary:
            pending.length === 0
              ? `Migrate to ${spec.to}: nothing pending (version ${current ?? 'none'}${earlier === undefined ? '' : ' after the earlier steps'}).`
              : `Migrate from ${current ?? 'nothing'}${earlier === undefined ? '' : ' (after the earlier steps)'} to ${spec.to}: ${pending.length} pending migration${pending.length === 1 ? '' : 's'}.`,
          details: pending.flatMap(describeMigration),
          compensation:
            current === null
              ? 'migrate down to no migrations (reverts all migrations applied by this step), with their down scripts'
              : `migrate down to ${current} (the version before the step), with the down scripts`,
        };
      } finally {
        await migrator.close();
      }
    },
    async apply(spec, ctx) {
      const applied: MigrationResult[] = [];
      const migrator = open(ctx, (event) => {
        if (event.type === 'migration-end' && event.result.status === 'applied')
          applied.push(event.result);
      });
      try {
        let checkpoint = await ctx.checkpoint.load<MigrateCheckpoint>();
        if (checkpoint === undefined) {
          const status = await migrator.status();
          checkpoint = { from: status.current ?? null };
          await ctx.checkpoint.save(checkpoint);
        }
        const result = await migrator.up({ to: spec.to, signal: ctx.signal });
        for (const r of applied) {
          await ctx.log('migration.applied', {
            version: r.version ?? null,
            name: r.name,
            durationMs: r.durationMs,
            transactional: r.transactional,
          });
        }
        if (ctx.signal.aborted && result.results.some((r) => r.status === 'pending')) {
          throw ctx.signal.reason;
        }
        if (result.error) throw result.error;
        const status = await migrator.status();
        return {
          from: checkpoint.from,
          to: spec.to,
          applied: status.migrations
            .filter(
              (m) => m.runId === ctx.runId && m.kind === 'versioned' && m.version !== undefined,
            )
            .map((m) => m.version as string),
        };
      } finally {
        await migrator.close();
      }
    },
    async checkCompensation(_spec, output, ctx) {
      const from = output?.from ?? (await ctx.checkpoint.load<MigrateCheckpoint>())?.from;
      if (from === undefined) return;
      const settings = settingsOf(ctx);
      const migrator = open(ctx);
      try {
        const status = await migrator.status();
        const layout = status.layout ?? settings.layout ?? 'native';
        const toRevert = status.migrations.filter(
          (m) =>
            m.kind === 'versioned' &&
            (m.state === 'applied' || m.state === 'modified') &&
            m.version !== undefined &&
            (from === null || compareVersions(m.version, from, layout) > 0),
        );
        if (toRevert.length === 0) return;
        const files = await loadMigrations(
          settings.dir,
          settings.layout ? { layout: settings.layout } : {},
        );
        for (const entry of toRevert) {
          const file = files.find(
            (m) =>
              m.version !== undefined && compareVersions(m.version, entry.version!, layout) === 0,
          );
          if (file?.down === undefined) {
            throw new CutoverError(
              'COMPENSATION_IMPOSSIBLE',
              'refused',
              `migration ${entry.version} (${entry.name}) has ${file === undefined ? 'no file any more' : 'no down script'}, so the step cannot migrate down to ${from ?? 'no migrations'}`,
              { hint: 'Add a down script for that migration, or roll forward.' },
            );
          }
        }
      } finally {
        await migrator.close();
      }
    },
    async compensate(_spec, output, ctx) {
      const from = output?.from ?? (await ctx.checkpoint.load<MigrateCheckpoint>())?.from;
      if (from === undefined) return; // the step never got to record where it started: nothing applied
      const reverted: MigrationResult[] = [];
      const migrator = open(ctx, (event) => {
        if (event.type === 'migration-end' && event.result.status === 'reverted')
          reverted.push(event.result);
      });
      try {
        const result = await migrator.down({ to: from, signal: ctx.signal });
        for (const r of reverted) {
          await ctx.log('migration.reverted', {
            version: r.version ?? null,
            name: r.name,
            durationMs: r.durationMs,
          });
        }
        if (ctx.signal.aborted && result.results.some((r) => r.status === 'pending')) {
          throw ctx.signal.reason;
        }
        if (result.error) throw result.error;
      } finally {
        await migrator.close();
      }
    },
  };
}

function settingsOf(ctx: StepContext): PlanMigrations {
  return ctx.migrations ?? { dir: resolve(ctx.planDir, 'migrations') };
}

function migratorSettings(settings: PlanMigrations): Partial<MigratorOptions> {
  return {
    dir: settings.dir,
    ...(settings.layout === undefined ? {} : { layout: settings.layout }),
    ...(settings.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: settings.lockTimeoutMs }),
    ...(settings.statementTimeoutMs === undefined
      ? {}
      : { statementTimeoutMs: settings.statementTimeoutMs }),
    ...(settings.lockRetries === undefined ? {} : { lockRetries: settings.lockRetries }),
    ...(settings.lockWaitMs === undefined ? {} : { lockWaitMs: settings.lockWaitMs }),
    ...(settings.allowOutOfOrder === undefined
      ? {}
      : { allowOutOfOrder: settings.allowOutOfOrder }),
  };
}

function describeMigration(result: MigrationResult): string[] {
  const head = `${result.version ?? 'R'} ${result.name} — ${result.transactional ? 'one transaction' : `outside a transaction (${result.nonTransactionalReason ?? 'non-transactional statements'})`}`;
  if (result.statements === undefined)
    return [head, '  TypeScript migration: its statements are known only when it runs'];
  return [head, ...result.statements.map(describeStatement)];
}

function describeStatement(s: StatementReport): string {
  const sql = s.sql.replace(/\s+/g, ' ');
  const rows = s.tableEstimates
    .map(
      (t) =>
        `${t.table} ≈ ${t.estimatedRows === null ? (t.exists ? '? rows' : 'new table') : `${Math.round(t.estimatedRows).toLocaleString('en-US')} rows`}`,
    )
    .join(', ');
  return `  ${sql.length > 70 ? `${sql.slice(0, 69)}…` : sql}: lock ${s.lock}${s.rewrites ? ', REWRITES the table' : ''}, ${s.blocks}${rows ? ` (${rows})` : ''}${s.advice ? ` — ${s.advice}` : ''}`;
}
