import { hostname as osHostname } from 'node:os';
import { isRecord, type CompileContext } from './compile-context.js';
import {
  brokenFeature,
  compileFeature,
  compileSegments,
  type CompiledFeature,
} from './compile-feature.js';
import type { StaticContext } from './context-value.js';
import { evaluateFeature, matchIndex } from './evaluate-feature.js';
import { DISABLED_OFF, type Evaluation, type VariantResult } from './evaluation.js';
import type { ClientFeaturesResponse, FlagContext } from './model.js';

export type {
  Evaluation,
  EvaluationErrorCode,
  EvaluationReason,
  VariantResult,
} from './evaluation.js';

/** A compiled, immutable set of flags; evaluation is synchronous and never throws. */
export interface FlagEvaluator {
  /** True when the flag exists and is on for `context` (Unleash `isEnabled`); unknown flags are off. */
  isEnabled(name: string, context?: FlagContext): boolean;
  /** The variant for `context` (Unleash `getVariant`). */
  getVariant(name: string, context?: FlagContext): VariantResult;
  /** Value, variant and reason for `context`. */
  evaluate(name: string, context?: FlagContext): Evaluation;
  /** Names of the flags in the payload, in payload order. */
  readonly names: string[];
}

/** Options of {@link createEvaluator}. */
export interface EvaluatorOptions {
  /** Clock for DATE_* constraints when the context has no `currentTime`. Default `() => new Date()`. */
  now?: () => Date;
  /** Uniform [0, 1) source for random stickiness and `gradualRolloutRandom`. Default `Math.random`. */
  random?: () => number;
  /** Host name for `applicationHostname` (compared lower-cased). Default `$HOSTNAME`, else `os.hostname()`. */
  hostname?: string;
  /** `appName` / `environment` used when a context does not set them (Unleash's static context). */
  staticContext?: StaticContext;
}

const EMPTY_CONTEXT: FlagContext = Object.freeze({});

function defaultHostname(): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  let name: string | undefined = env?.HOSTNAME;
  if (!name) {
    try {
      name = osHostname();
    } catch {
      name = undefined;
    }
  }
  return (name || 'undefined').toLowerCase();
}

function generalError(error: unknown): Evaluation {
  return {
    enabled: false,
    variant: DISABLED_OFF,
    reason: 'ERROR',
    errorCode: 'GENERAL',
    errorMessage: error instanceof Error ? error.message : String(error),
  };
}

function asContext(context: unknown): FlagContext {
  return typeof context === 'object' && context !== null ? context : EMPTY_CONTEXT;
}

/**
 * Compiles a client features payload (the Unleash `/api/client/features`
 * body, v2) into a {@link FlagEvaluator}. Everything that does not depend on
 * the context is done here once: rollout numbers parsed, IN lists as `Set`s,
 * RE2 regexes compiled, semvers/dates/CIDRs parsed, segments resolved, hash
 * state of every `groupId:` prefix computed, and every possible
 * {@link Evaluation} / {@link VariantResult} object pre-built (evaluation
 * allocates nothing on the common paths).
 *
 * Semantics are those of the official Node SDK (`unleash-client` 6.x) and the
 * Unleash client specification: strategies `default`, `userWithId`,
 * `gradualRolloutUserId`, `gradualRolloutSessionId`, `gradualRolloutRandom`,
 * `flexibleRollout`, `remoteAddress`, `applicationHostname` (a feature is on
 * when any strategy is on; no strategies = on); constraints (all must hold)
 * and segments; feature and strategy variants with overrides; dependencies
 * on parent features (one level). Hashing: see {@link normalizedHash}.
 *
 * Never throws, neither here nor when evaluating: an unknown strategy never
 * matches, an unknown operator / malformed constraint / broken regex fails
 * closed, a missing segment makes its strategy fail, a feature whose
 * `strategies` is not an array evaluates to ERROR/PARSE_ERROR (off), features
 * without a string name are ignored, and a later duplicate name wins.
 * Strategies with `disabled: true` are skipped; when all are, the feature is
 * off (as Unleash serves it).
 */
export function createEvaluator(
  features: ClientFeaturesResponse,
  options: EvaluatorOptions = {},
): FlagEvaluator {
  let hostnameValue: string | undefined = options.hostname?.toLowerCase();
  const cx: CompileContext = {
    now: options.now ?? (() => new Date()),
    random: options.random ?? Math.random,
    hostname: () => (hostnameValue ??= defaultHostname()),
    staticContext: options.staticContext ?? {},
    segments: new Map(),
  };
  const payload: unknown = features;
  const byName = new Map<string, CompiledFeature>();
  if (isRecord(payload)) {
    compileSegments(payload.segments, cx);
    if (Array.isArray(payload.features)) {
      for (const raw of payload.features as unknown[]) {
        if (!isRecord(raw) || typeof raw.name !== 'string') continue;
        let compiled: CompiledFeature;
        try {
          compiled = compileFeature(raw, raw.name, cx);
        } catch (error) {
          compiled = brokenFeature(
            raw.name,
            `flag "${raw.name}" cannot be compiled: ${error instanceof Error ? error.message : 'unknown error'}`,
          );
        }
        byName.set(raw.name, compiled);
      }
    }
  }
  for (const f of byName.values()) {
    if (f.deps === null) continue;
    for (const d of f.deps) d.parent = byName.get(d.name) ?? null;
  }
  const names = Object.freeze([...byName.keys()]) as string[];

  return {
    names,
    isEnabled(name: string, context?: FlagContext): boolean {
      const f = byName.get(name);
      if (f === undefined) return false;
      try {
        return matchIndex(f, asContext(context)) >= 0;
      } catch {
        return false;
      }
    },
    getVariant(name: string, context?: FlagContext): VariantResult {
      const f = byName.get(name);
      if (f === undefined) return DISABLED_OFF;
      try {
        return evaluateFeature(f, asContext(context)).variant;
      } catch {
        return DISABLED_OFF;
      }
    },
    evaluate(name: string, context?: FlagContext): Evaluation {
      const f = byName.get(name);
      if (f === undefined) {
        return {
          enabled: false,
          variant: DISABLED_OFF,
          reason: 'DEFAULT',
          errorCode: 'FLAG_NOT_FOUND',
          errorMessage: `flag "${String(name)}" not found`,
        };
      }
      try {
        return evaluateFeature(f, asContext(context));
      } catch (error) {
        return generalError(error);
      }
    },
  };
}
