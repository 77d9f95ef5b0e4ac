import { createApproveStepKind } from './approve-step.js';
import { createMigrateStepKind } from './migrate-step.js';
import { createNotifyStepKind } from './notify-step.js';
import { createSqlStepKind } from './sql-step.js';
import type { StepKind } from './step-kind.js';
import { createWaitStepKind } from './wait-step.js';

/**
 * The runner's step kinds: `migrate`, `sql`, `wait`, `approve`, `notify`.
 * The data kinds (`snapshot`, `backup`, `backfill`, `verify`) come from
 * `dataStepKinds()`; `builtinStepKinds()` gives all of them.
 */
export function defaultStepKinds(): StepKind<never, unknown>[] {
  return [
    createMigrateStepKind(),
    createSqlStepKind(),
    createWaitStepKind(),
    createApproveStepKind(),
    createNotifyStepKind(),
  ] as StepKind<never, unknown>[];
}
