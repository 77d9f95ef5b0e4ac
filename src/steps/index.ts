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
