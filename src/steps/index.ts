export type {
  Clock,
  CompletedStep,
  StepCheckpoint,
  StepContext,
  StepDescription,
  StepKind,
  StepProgress,
} from './step-kind.js';
export { createStepKindRegistry } from './step-kind-registry.js';
export type { AnyStepKind, StepKindRegistry } from './step-kind-registry.js';
export { defaultStepKinds } from './default-step-kinds.js';
export { createApproveStepKind } from './approve-step.js';
export type { ApproveOutput, ApproveSpec, ApproveStepKindOptions } from './approve-step.js';
export { createNotifyStepKind } from './notify-step.js';
export type { NotifyOutput, NotifySpec, NotifyStepKindOptions } from './notify-step.js';
export { createSqlStepKind } from './sql-step.js';
export type { SqlOutput, SqlSpec } from './sql-step.js';
export { createWaitStepKind } from './wait-step.js';
export type { WaitOutput, WaitSpec } from './wait-step.js';
export { postWebhook, safeOrigin } from './post-webhook.js';
export type { PostWebhookOptions, WebhookDelivery } from './post-webhook.js';
export { createMigrateStepKind } from './migrate-step.js';
export type { MigrateOutput, MigrateSpec, MigrateStepKindOptions } from './migrate-step.js';
export { dataStepKinds } from './data-step-kinds.js';
export type { DataStepKindsOptions } from './data-step-kinds.js';
export { createSnapshotStepKind } from './snapshot-step.js';
export type { SnapshotOutput, SnapshotSpec } from './snapshot-step.js';
export { createBackupStepKind } from './backup-step.js';
export type { BackupOutput, BackupSpec, BackupStepKindOptions } from './backup-step.js';
export { createBackfillStepKind } from './backfill-step.js';
export type { BackfillOutput, BackfillSpec } from './backfill-step.js';
export { createVerifyStepKind } from './verify-step.js';
export type { VerifyOutput, VerifySpec } from './verify-step.js';
export { builtinStepKinds } from './builtin-step-kinds.js';
export {
  createFlagStepKind,
  flagCompensationOperationId,
  flagStepOperationId,
  flagStepSpecSchema,
} from './flag-step.js';
export type { FlagStepOutput, FlagStepSpec } from './flag-step.js';
export {
  describeFlagChange,
  flagEnvironmentState,
  formatFlagEnvironmentState,
} from './describe-flag-change.js';
export type { FlagEnvironmentState } from './describe-flag-change.js';
