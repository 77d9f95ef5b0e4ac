export type * from './model.js';
export {
  createEvaluator,
  type Evaluation,
  type EvaluationErrorCode,
  type EvaluationReason,
  type EvaluatorOptions,
  type FlagEvaluator,
  type VariantResult,
} from './create-evaluator.js';
export {
  normalizedHash,
  murmurHash3X86_32,
  STRATEGY_HASH_SEED,
  VARIANT_HASH_SEED,
} from './normalized-hash.js';
export {
  CONSTRAINT_OPERATORS,
  LIST_OPERATORS,
  type ConstraintOperator,
} from './compile-constraint.js';
export type { StaticContext } from './context-value.js';
export { applyDeltaEvents, type DeltaEvent } from './apply-delta-events.js';
export {
  flagSchema,
  flagEnvironmentSchema,
  strategySchema,
  constraintSchema,
  variantSchema,
  variantsSchema,
  variantPayloadSchema,
  segmentSchema,
  parseFlag,
  parseSegment,
  formatJsonPath,
  STRATEGY_NAMES,
  FLAG_TYPES,
  FLAG_KEY_PATTERN,
  VARIANT_WEIGHT_TOTAL,
  type FlagIssue,
  type ParseFlagOptions,
} from './parse-flag.js';
export { flagToFeature, flagsToClientFeatures, resolveVariantWeights } from './flag-to-feature.js';

// Store (PostgreSQL; not used by the evaluator or the SDK).
export {
  createFlagStore,
  environmentRevision,
  FLAG_CHANNEL,
  type FlagEvent,
  type FlagNotification,
  type FlagSnapshot,
  type FlagStore,
  type FlagStoreOptions,
} from './flag-store.js';
export type {
  ChangeMeta,
  EnvironmentChangeMeta,
  FlagAction,
  FlagAdmin,
  FlagChange,
  FlagExport,
  FlagRecord,
  FlagVersion,
  ImportOptions,
  ListFilter,
  SegmentChange,
} from './flag-store-types.js';
export {
  flagHasTag,
  parseEnvironmentName,
  parseRolloutPercent,
  parseTagFilter,
  targetEnvironments,
  withEnabled,
  withRollout,
  type TagFilter,
} from './flag-mutations.js';
export {
  listenForFlagChanges,
  parseNotification,
  type FlagChangeHandlers,
  type FlagChangeListener,
  type FlagChangeListenerOptions,
} from './flag-change-listener.js';
export {
  createClientReportStore,
  type ClientApplication,
  type ClientMetrics,
  type ClientRegistration,
  type ClientReportStore,
  type FlagMetricsRow,
  type ToggleCounts,
} from './client-report-store.js';
