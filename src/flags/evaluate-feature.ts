import type { CompiledDependency, CompiledFeature } from './compile-feature.js';
import { strategyMatches } from './compile-strategy.js';
import { overrideIndex, splitIndex } from './compile-variants.js';
import type { Evaluation } from './evaluation.js';
import type { FlagContext } from './model.js';

/** Index of the strategy that enables `f`, -1 when disabled, -2 when none matched. */
export function matchIndex(f: CompiledFeature, c: FlagContext): number {
  if (!f.enabled) return -1;
  if (f.deps !== null && !dependenciesSatisfied(f.deps, c)) return -1;
  const s = f.strategies;
  for (let i = 0; i < s.length; i++) if (strategyMatches(s[i]!, c)) return i;
  return -2;
}

function dependenciesSatisfied(deps: CompiledDependency[], c: FlagContext): boolean {
  for (let i = 0; i < deps.length; i++) {
    const d = deps[i]!;
    const parent = d.parent;
    // unleash-client: missing parents and parents that have dependencies themselves fail.
    if (parent === null || parent.deps !== null || parent.error !== null) return false;
    if (d.expectEnabled) {
      if (d.variants !== null) {
        const v = evaluateFeature(parent, c).variant;
        if (!v.feature_enabled || !d.variants.has(v.name)) return false;
      } else if (matchIndex(parent, c) < 0) {
        return false;
      }
    } else if (matchIndex(parent, c) >= 0) {
      return false;
    }
  }
  return true;
}

/** The evaluation of `f` for `c`: strategy variant (override, then split), feature variant, or the plain result. */
export function evaluateFeature(f: CompiledFeature, c: FlagContext): Evaluation {
  if (f.error !== null) return f.error;
  const i = matchIndex(f, c);
  if (i === -1) return f.disabled;
  if (i === -2) return f.noMatch;
  const strategy = f.strategies[i]!;
  const results = f.results[i]!;
  const sv = strategy.variants;
  if (sv !== null) {
    let j = overrideIndex(sv, c);
    if (j >= 0) return results.strategyOverride[j]!;
    j = splitIndex(sv, c);
    if (j >= 0) return results.strategySplit[j]!;
  }
  const fv = f.variants;
  if (fv !== null) {
    let j = overrideIndex(fv, c);
    if (j >= 0) return results.featureOverride[j]!;
    j = splitIndex(fv, c);
    if (j >= 0) return results.featureSplit[j]!;
  }
  return results.plain;
}
