import { createApproveStepKind } from './approve-step.js';
import { createNotifyStepKind } from './notify-step.js';
import { createSqlStepKind } from './sql-step.js';
import type { StepKind } from './step-kind.js';
import { createWaitStepKind } from './wait-step.js';

/**
 * The built-in step kinds, in the order `cutover plan schema` lists them.
 * Build a registry with `createStepKindRegistry(defaultStepKinds())`, adding
 * your own kinds to the array.
 */
export function defaultStepKinds(): StepKind<never, unknown>[] {
  return [
    createSqlStepKind(),
    createWaitStepKind(),
    createApproveStepKind(),
    createNotifyStepKind(),
  ] as StepKind<never, unknown>[];
}
