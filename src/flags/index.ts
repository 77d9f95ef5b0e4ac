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
