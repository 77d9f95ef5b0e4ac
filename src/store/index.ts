export { advisoryLockKey } from './advisory-lock-key.js';
export { CONTROL_SCHEMA, CONTROL_SCHEMA_LOCK_KEY, ensureControlSchema } from './control-schema.js';
export type { ControlSchemaResult, EnsureControlSchemaOptions } from './control-schema.js';
export { CONTROL_MIGRATIONS } from './control-migrations/index.js';
export type { ControlMigration } from './control-migrations/index.js';
export { ControlStore, leaseLost } from './control-store.js';
export type {
  Fence,
  LeaseRequest,
  LeaseResult,
  NewEvent,
  NewRun,
  Queryable,
  RunPatch,
  StepPatch,
} from './control-store.js';
export type {
  ApprovalRecord,
  EventRecord,
  LeaseRecord,
  RunMode,
  RunRecord,
  RunStatus,
  StepRecord,
  StepStatus,
  StoredError,
  StoredPlan,
  StoredPlanStep,
} from './run-records.js';
