import { z } from 'zod';
import type { StepKindRegistry } from '../steps/step-kind-registry.js';
import { durationSchema } from './duration.js';
import type { RunEventName } from './plan-types.js';

/** Run events a plan-level webhook can subscribe to (`webhooks[].events`). */
export const RUN_EVENT_NAMES: readonly RunEventName[] = [
  'started',
  'step_failed',
  'paused',
  'failed',
  'rolled_back',
  'finished',
  'approval_needed',
];

const MIGRATION_LAYOUTS = ['native', 'golang-migrate', 'flyway', 'prisma', 'typescript'] as const;

/** A phase name: letters, digits, `_` and `-` (it becomes part of step ids `<phase>.<index>`). */
const PHASE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** `> 5%`, `>= 250`, `< 0.5`: a comparison with a number, optionally a percentage. */
const THRESHOLD = /^\s*(>=|<=|>|<)\s*-?\d+(\.\d+)?\s*%?\s*$/;

const httpUrl = z
  .string({ error: 'expected an http(s) URL' })
  .refine((value) => /^https?:\/\/[^\s]+$/i.test(value), { error: 'expected an http(s) URL' });

/**
 * Schema of the plan's `migrations` key, shared with `cutover migrate`:
 * a directory, or `{ dir, layout, lockTimeout, statementTimeout, lockRetries,
 * lockWait, allowOutOfOrder }` (durations like `2s` or ms numbers).
 */
export const planMigrationsSchema = z.union(
  [
    z.string().min(1, { error: 'expected a directory' }),
    z.strictObject({
      dir: z.string().min(1, { error: 'expected a directory' }).default('migrations'),
      layout: z.enum(MIGRATION_LAYOUTS).optional(),
      lockTimeout: durationSchema().optional(),
      statementTimeout: durationSchema().optional(),
      lockRetries: z
        .number()
        .int({ error: 'expected a whole number ≥ 0' })
        .min(0, { error: 'expected a whole number ≥ 0' })
        .optional(),
      lockWait: durationSchema().optional(),
      allowOutOfOrder: z.boolean().optional(),
    }),
  ],
  { error: 'expected a directory or a mapping with `dir`' },
);

/** Schema of one entry of `webhooks`: a URL, or `{ url, events }`. */
export const planWebhookSchema = z.union(
  [
    httpUrl,
    z.strictObject({
      url: httpUrl,
      events: z.array(z.enum(RUN_EVENT_NAMES as [RunEventName, ...RunEventName[]])).min(1),
    }),
  ],
  { error: 'expected a URL or a mapping with `url` and `events`' },
);

/** Schema of one entry of `guards` (validated and stored; not enforced yet). */
export const planGuardSchema = z.strictObject({
  name: z.string().min(1),
  metric: z.string().min(1),
  cohort: z.strictObject({ flag: z.string().min(1) }).optional(),
  threshold: z
    .string()
    .regex(THRESHOLD, { error: 'expected a comparison like "> 5%" or ">= 250"' }),
  for: durationSchema(),
  severity: z.enum(['critical', 'warning', 'info']).default('critical'),
});

/** Schema of a phase; `steps` are checked one by one against the step-kind registry. */
export const planPhaseSchema = z.strictObject({
  name: z.string().regex(PHASE_NAME, {
    error: 'expected a phase name of letters, digits, "_" and "-"',
  }),
  irreversible: z.boolean().default(false),
  steps: z.array(z.unknown()).min(1, { error: 'expected at least one step' }),
});

/**
 * Schema of the plan's top level. Steps are validated separately (by their
 * kind's schema) so errors carry exact paths; see {@link createPlanSchema}
 * for the complete schema.
 */
export const planTopLevelSchema = z.strictObject({
  name: z.string().min(1, { error: 'expected a plan name' }),
  database: z.string().optional(),
  migrations: planMigrationsSchema.optional(),
  environment: z.string().min(1).default('development'),
  onFailure: z.enum(['rollback', 'pause']).default('rollback'),
  webhooks: z.array(planWebhookSchema).default([]),
  guards: z.array(planGuardSchema).default([]),
  phases: z.array(planPhaseSchema).min(1, { error: 'expected at least one phase' }),
});

/**
 * The complete plan schema for a registry: like {@link planTopLevelSchema}
 * but each step is a one-key mapping `{ <kind>: spec }` validated by that
 * kind's schema. Used for the JSON Schema (`cutover plan schema`).
 */
export function createPlanSchema(registry: StepKindRegistry): z.ZodType {
  const stepVariants: z.ZodType[] = registry
    .kinds()
    .map((kind) =>
      z.strictObject({ [kind.name]: kind.schema }).describe(`A \`${kind.name}\` step.`),
    );
  const step =
    stepVariants.length === 0
      ? z.never()
      : stepVariants.length === 1
        ? stepVariants[0]!
        : z.union(stepVariants as [z.ZodType, z.ZodType, ...z.ZodType[]]);
  return planTopLevelSchema.extend({
    phases: z.array(planPhaseSchema.extend({ steps: z.array(step).min(1) })).min(1),
  });
}

/**
 * The JSON Schema (draft 2020-12) of plan files for a registry, for editor
 * completion (e.g. `# yaml-language-server: $schema=./cutover.schema.json`).
 * Describes the input form (durations as strings or ms numbers).
 */
export function planJsonSchema(registry: StepKindRegistry): Record<string, unknown> {
  const schema = z.toJSONSchema(createPlanSchema(registry), {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return {
    ...schema,
    title: 'cutover plan',
    description:
      'A cutover plan: phases of steps (snapshot, backup, migrate, sql, backfill, verify, flag, wait, approve, notify, …) run as one durable, resumable, reversible run.',
  };
}
