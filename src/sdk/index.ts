/**
 * `cutover/sdk`: the flag client for applications — local evaluation from an
 * in-memory copy kept current over Server-Sent Events (with polling fallback),
 * bootstrap and environment-variable flags, and an OpenFeature provider.
 * Imports neither `pg`, nor the server, nor the CLI.
 */
export { createFlagClient } from './flag-client.js';
export type {
  FlagChangeEvent,
  FlagClient,
  FlagClientEvents,
  FlagClientOptions,
  FlagClientState,
  FlagClientStatus,
  FlagErrorCode,
  FlagEvaluation,
  FlagReason,
  FlagSource,
} from './flag-client.js';
export { CutoverProvider, toFlagContext } from './cutover-provider.js';
export type { CutoverProviderOptions } from './cutover-provider.js';
export {
  FLAG_ENV_PREFIX,
  FLAG_ENV_USERS_SUFFIX,
  applyFlagEnv,
  flagEnvName,
  flagKeyFromEnvName,
  overrideToFeature,
  parseFlagEnv,
} from './env-flags.js';
export type { EnvFlagOverride, ParsedFlagEnv } from './env-flags.js';
export { loadBootstrap } from './load-bootstrap.js';
export type { ReadTextFile } from './load-bootstrap.js';
export { parseClientFeatures } from './parse-features.js';
export { reconnectDelay, DEFAULT_BACKOFF } from './backoff.js';
export type { ReconnectBackoff } from './backoff.js';
export type {
  Evaluation,
  EvaluationErrorCode,
  EvaluationReason,
  VariantResult,
} from '../flags/create-evaluator.js';
export type {
  ClientFeaturesResponse,
  FeatureDefinition,
  FlagContext,
  VariantPayload,
} from '../flags/model.js';
