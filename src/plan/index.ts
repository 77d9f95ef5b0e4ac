export { DEFAULT_PLAN_FILE, loadPlan, planDatabase } from './load-plan.js';
export type { LoadPlanOptions } from './load-plan.js';
export { formatIssue, formatPath, parsePlanSource, parsePlanValue } from './parse-plan.js';
export type { ParsePlanOptions, PlanIssue } from './parse-plan.js';
export {
  RUN_EVENT_NAMES,
  createPlanSchema,
  planGuardSchema,
  planJsonSchema,
  planMigrationsSchema,
  planPhaseSchema,
  planTopLevelSchema,
  planWebhookSchema,
} from './plan-schema.js';
export { durationSchema, formatDuration, parseDuration } from './duration.js';
export { interpolate } from './interpolate.js';
export type { InterpolationResult, MissingVariable } from './interpolate.js';
export type {
  OnFailure,
  Plan,
  PlanGuard,
  PlanMigrations,
  PlanPhase,
  PlanStep,
  PlanWebhook,
  RunEventName,
} from './plan-types.js';
