import { compileConstraint } from './compile-constraint.js';
import { isRecord, type CompileContext } from './compile-context.js';
import { alwaysOnStrategy, compileStrategy, type CompiledStrategy } from './compile-strategy.js';
import { compileVariants, type CompiledVariants } from './compile-variants.js';
import {
  DISABLED_OFF,
  DISABLED_ON,
  freezeEvaluation,
  type Evaluation,
  type EvaluationReason as Reason,
  type VariantResult,
} from './evaluation.js';

/** The pre-built evaluations of one strategy of a feature: plain, and per strategy/feature variant (override or split). */
export interface StrategyResults {
  readonly plain: Evaluation;
  readonly strategyOverride: Evaluation[];
  readonly strategySplit: Evaluation[];
  readonly featureOverride: Evaluation[];
  readonly featureSplit: Evaluation[];
}

/** A dependency on a parent feature; `parent` is linked once every feature is compiled (null when missing). */
export interface CompiledDependency {
  readonly name: string;
  parent: CompiledFeature | null;
  readonly expectEnabled: boolean;
  readonly variants: Set<string> | null;
}

/** A compiled feature: its strategies, variants, dependencies and every evaluation it can return. */
export interface CompiledFeature {
  readonly name: string;
  readonly enabled: boolean;
  readonly deps: CompiledDependency[] | null;
  readonly strategies: CompiledStrategy[];
  readonly variants: CompiledVariants | null;
  readonly results: StrategyResults[];
  readonly disabled: Evaluation;
  readonly noMatch: Evaluation;
  /** Set when the feature could not be compiled. */
  readonly error: Evaluation | null;
}

function variantEvaluations(
  v: CompiledVariants | null,
  base: Reason,
  strategy: string | undefined,
): { override: Evaluation[]; split: Evaluation[] } {
  if (v === null) return { override: [], split: [] };
  const make = (variant: VariantResult, reason: Reason) =>
    freezeEvaluation(
      strategy === undefined
        ? { enabled: true, variant, reason }
        : { enabled: true, variant, reason, strategy },
    );
  return {
    override: v.results.map((r) => make(r, 'TARGETING_MATCH')),
    split: v.results.map((r) => make(r, v.isSplit ? 'SPLIT' : base)),
  };
}

function errorEvaluation(message: string): Evaluation {
  return freezeEvaluation({
    enabled: false,
    variant: DISABLED_OFF,
    reason: 'ERROR',
    errorCode: 'PARSE_ERROR',
    errorMessage: message,
  });
}

/** A feature that could not be compiled: evaluates to ERROR/PARSE_ERROR with `message` (off). */
export function brokenFeature(name: string, message: string): CompiledFeature {
  return {
    name,
    enabled: false,
    deps: null,
    strategies: [],
    variants: null,
    results: [],
    disabled: freezeEvaluation({ enabled: false, variant: DISABLED_OFF, reason: 'DISABLED' }),
    noMatch: freezeEvaluation({ enabled: false, variant: DISABLED_OFF, reason: 'DEFAULT' }),
    error: errorEvaluation(message),
  };
}

/**
 * Compiles one feature of the payload (strategies, variants, dependencies) and
 * pre-builds its evaluations; dependencies are left unlinked.
 */
export function compileFeature(
  raw: Record<string, unknown>,
  name: string,
  cx: CompileContext,
): CompiledFeature {
  const disabled = freezeEvaluation({ enabled: false, variant: DISABLED_OFF, reason: 'DISABLED' });
  const noMatch = freezeEvaluation({ enabled: false, variant: DISABLED_OFF, reason: 'DEFAULT' });
  if (!Array.isArray(raw.strategies)) {
    return brokenFeature(name, `flag "${name}": strategies is not an array`);
  }
  let deps: CompiledDependency[] | null = null;
  if (Array.isArray(raw.dependencies) && raw.dependencies.length > 0) {
    deps = [];
    for (const d of raw.dependencies as unknown[]) {
      if (!isRecord(d) || typeof d.feature !== 'string') {
        deps.push({ name: '', parent: null, expectEnabled: true, variants: null });
        continue;
      }
      const variants =
        Array.isArray(d.variants) && d.variants.length > 0
          ? new Set((d.variants as unknown[]).filter((x): x is string => typeof x === 'string'))
          : null;
      deps.push({ name: d.feature, parent: null, expectEnabled: d.enabled !== false, variants });
    }
  }
  const rawStrategies = raw.strategies as unknown[];
  const strategies: CompiledStrategy[] = [];
  for (const s of rawStrategies) {
    const compiled = compileStrategy(s, cx);
    if (compiled !== null) strategies.push(compiled);
  }
  let enabled = Boolean(raw.enabled);
  if (rawStrategies.length === 0) {
    strategies.push(alwaysOnStrategy());
  } else if (strategies.length === 0) {
    // Every strategy is disabled: Unleash serves such a feature as disabled.
    enabled = false;
  }
  let variants: CompiledVariants | null = null;
  if (Array.isArray(raw.variants) && raw.variants.length > 0) {
    const first: unknown = raw.variants[0];
    const stickiness =
      isRecord(first) && typeof first.stickiness === 'string' ? first.stickiness : 'default';
    variants = compileVariants(raw.variants, name, stickiness, cx);
  }
  const results = strategies.map((s): StrategyResults => {
    const plain = freezeEvaluation(
      s.name === undefined
        ? { enabled: true, variant: DISABLED_ON, reason: s.reason }
        : { enabled: true, variant: DISABLED_ON, reason: s.reason, strategy: s.name },
    );
    const sv = variantEvaluations(s.variants, s.reason, s.name);
    const fv = variantEvaluations(variants, s.reason, s.name);
    return {
      plain,
      strategyOverride: sv.override,
      strategySplit: sv.split,
      featureOverride: fv.override,
      featureSplit: fv.split,
    };
  });
  return { name, enabled, deps, strategies, variants, results, disabled, noMatch, error: null };
}

/** Compiles the payload's segments into `cx.segments` (a segment without a constraint list never matches). */
export function compileSegments(raw: unknown, cx: CompileContext): void {
  if (!Array.isArray(raw)) return;
  for (const s of raw as unknown[]) {
    if (!isRecord(s) || typeof s.id !== 'number') continue;
    if (!Array.isArray(s.constraints)) {
      cx.segments.set(s.id, [compileConstraint(null, cx)]);
      continue;
    }
    cx.segments.set(
      s.id,
      (s.constraints as unknown[]).map((c) => compileConstraint(c, cx)),
    );
  }
}
