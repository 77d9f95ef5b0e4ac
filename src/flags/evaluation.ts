import type { VariantPayload } from './model.js';

/**
 * The variant a flag resolves to, in the shape of the Unleash SDKs'
 * `getVariant`: `{ name: 'disabled', enabled: false, feature_enabled }` when
 * no variant applies (`feature_enabled` tells whether the flag itself is on).
 * Returned objects are frozen and shared between calls.
 */
export interface VariantResult {
  name: string;
  enabled: boolean;
  feature_enabled: boolean;
  payload?: VariantPayload;
}

/**
 * Why an evaluation produced its value, named as OpenFeature names reasons:
 *
 * - `DISABLED`: the flag is off in this environment (kill switch), or a parent
 *   dependency is not satisfied.
 * - `SPLIT`: a pseudorandom split decided: the variant was picked by weight
 *   among two or more weighted variants, or the strategy that enabled the flag
 *   is a percentage rollout below 100 % (`flexibleRollout`, `gradualRollout*`).
 * - `TARGETING_MATCH`: the context matched a rule: a variant override, a
 *   strategy with constraints or segments, `userWithId`, `remoteAddress`,
 *   `applicationHostname`, or a 100 % rollout that needs a context field
 *   (`gradualRolloutUserId`/`SessionId`, custom stickiness).
 * - `STATIC`: on for everyone — a `default` strategy without constraints, a
 *   100 % `flexibleRollout` with default/random stickiness, or an enabled flag
 *   with no strategies.
 * - `DEFAULT`: the flag is on but no strategy matched, so the default (off)
 *   applies; also an unknown flag (with `errorCode: 'FLAG_NOT_FOUND'`).
 * - `ERROR`: the flag's definition could not be compiled (`PARSE_ERROR`) or
 *   evaluation failed unexpectedly (`GENERAL`); the value is off.
 *
 * Precedence when several apply: variant override → variant split → rollout
 * split → targeting → static.
 */
export type EvaluationReason =
  'TARGETING_MATCH' | 'SPLIT' | 'DEFAULT' | 'DISABLED' | 'STATIC' | 'ERROR';

/** OpenFeature error codes an evaluation can carry. */
export type EvaluationErrorCode = 'FLAG_NOT_FOUND' | 'PARSE_ERROR' | 'GENERAL';

/** The full result of evaluating a flag. Frozen and shared between calls, except on errors. */
export interface Evaluation {
  /** Whether the flag is on for the context (what `isEnabled` returns). */
  enabled: boolean;
  /** The variant (what `getVariant` returns). */
  variant: VariantResult;
  reason: EvaluationReason;
  errorCode?: EvaluationErrorCode;
  errorMessage?: string;
  /** Name of the strategy that enabled the flag, when one did. */
  strategy?: string;
}

/** The variant of a flag that is off (or unknown) for the context. */
export const DISABLED_OFF: VariantResult = Object.freeze({
  name: 'disabled',
  enabled: false,
  feature_enabled: false,
});
/** The variant of a flag that is on for the context but has no variant that applies. */
export const DISABLED_ON: VariantResult = Object.freeze({
  name: 'disabled',
  enabled: false,
  feature_enabled: true,
});

/** Freezes an evaluation that will be shared between calls. */
export function freezeEvaluation(e: Evaluation): Evaluation {
  return Object.freeze(e);
}
