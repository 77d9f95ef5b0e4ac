export { advisoryLockKey } from './advisory-lock-key.js';
export { CONTROL_SCHEMA, CONTROL_SCHEMA_LOCK_KEY, ensureControlSchema } from './control-schema.js';
export type { ControlSchemaResult, EnsureControlSchemaOptions } from './control-schema.js';
export { CONTROL_MIGRATIONS } from './control-migrations/index.js';
export type { ControlMigration } from './control-migrations/index.js';
