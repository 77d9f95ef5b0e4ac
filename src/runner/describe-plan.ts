import { join } from 'node:path';
import type pg from 'pg';
import { CutoverError } from '../errors/index.js';
import type { Plan } from '../plan/plan-types.js';
import type { StoredError } from '../store/run-records.js';
import type { Clock, CompletedStep, StepContext, StepDescription } from '../steps/step-kind.js';
import type { StepKindRegistry } from '../steps/step-kind-registry.js';
import { defaultActor } from './actor.js';
import { toStoredError } from './stored-error.js';
import { createSystemClock } from './system-clock.js';

/** The run id step kinds see while describing (no run exists yet). */
export const DESCRIBE_RUN_ID = '00000000-0000-0000-0000-000000000000';

/** One step of a {@link PlanDescription}. */
export interface DescribedStep {
  id: string;
  phase: string;
  /** The phase is a point of no return. */
  irreversible: boolean;
  kind: string;
  location?: string;
  /** What the step will do and how it is compensated, when describing worked. */
  description?: StepDescription;
  /** Why describing failed (e.g. a backfill module that does not load). */
  error?: StoredError;
}

/** What `cutover plan` shows: every step in order with what it will do and its compensation. */
export interface PlanDescription {
  steps: DescribedStep[];
  /** True when every step could be described. */
  ok: boolean;
}

/** Options of {@link describePlan}. */
export interface DescribePlanOptions {
  pool: pg.Pool;
  databaseUrl: string;
  registry: StepKindRegistry;
  /** Default `<cwd>/.cutover`. */
  stateDir?: string;
  clock?: Clock;
  actor?: string;
}

/**
 * Describes every step of a plan with its kind's `describe` (read-only: may
 * read the database, e.g. pending migrations with their dry-run lock info or
 * the rows a backfill will touch from `pg_class.reltuples`). A step whose
 * description fails is reported with its error; the others are still described.
 * While describing, `ctx.completedSteps` lists the plan's earlier steps (not
 * run yet: `output` undefined), so a kind can account for them (a later
 * `migrate` step starts where the earlier one ends).
 */
export async function describePlan(
  plan: Plan,
  options: DescribePlanOptions,
): Promise<PlanDescription> {
  const clock = options.clock ?? createSystemClock();
  const signal = new AbortController().signal;
  const steps: DescribedStep[] = [];
  const before: CompletedStep[] = [];
  for (const phase of plan.phases) {
    for (const step of phase.steps) {
      const base: DescribedStep = {
        id: step.id,
        phase: phase.name,
        irreversible: phase.irreversible,
        kind: step.kind,
        ...(step.location === undefined ? {} : { location: step.location }),
      };
      try {
        const kind = options.registry.require(step.kind);
        const spec: unknown = kind.schema.parse(step.spec ?? {});
        const ctx: StepContext = {
          runId: DESCRIBE_RUN_ID,
          stepId: step.id,
          pool: options.pool,
          databaseUrl: options.databaseUrl,
          planDir: plan.dir,
          stateDir: options.stateDir ?? join(process.cwd(), '.cutover'),
          environment: plan.environment,
          signal,
          clock,
          actor: options.actor ?? defaultActor(),
          ...(plan.migrations === undefined ? {} : { migrations: plan.migrations }),
          autoApprove: false,
          completedSteps: [...before],
          log: () => Promise.resolve(),
          progress: () => undefined,
          checkpoint: {
            load: () => Promise.resolve(undefined),
            save: () =>
              Promise.reject(
                new CutoverError(
                  'DESCRIBE_IS_READ_ONLY',
                  'failed',
                  'describe() must not save a checkpoint.',
                ),
              ),
          },
        };
        before.push({ id: step.id, kind: step.kind, spec, output: undefined });
        steps.push({ ...base, description: await kind.describe(spec, ctx) });
      } catch (error) {
        steps.push({ ...base, error: toStoredError(error) });
      }
    }
  }
  return { steps, ok: steps.every((s) => s.error === undefined) };
}
