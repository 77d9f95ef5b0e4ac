// TEMPORARY stand-in for src/flags' evaluator (branch flags-eval) until it is
// merged; same names and shapes as announced. Deleted at the merge.
import type { ClientFeaturesResponse, FlagContext, VariantPayload } from '../flags/model.js';

export interface VariantResult {
  name: string;
  enabled: boolean;
  feature_enabled: boolean;
  payload?: VariantPayload;
}

export interface Evaluation {
  enabled: boolean;
  variant: VariantResult;
  reason: 'TARGETING_MATCH' | 'SPLIT' | 'DEFAULT' | 'DISABLED' | 'STATIC' | 'ERROR';
  errorCode?: string;
  errorMessage?: string;
}

export interface FlagEvaluator {
  isEnabled(name: string, ctx?: FlagContext): boolean;
  getVariant(name: string, ctx?: FlagContext): VariantResult;
  evaluate(name: string, ctx?: FlagContext): Evaluation;
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + (c.codePointAt(0) ?? 0)) >>> 0;
  return (h % 100) + 1;
}

export function createEvaluator(
  features: ClientFeaturesResponse,
  _options: { now?: () => Date; random?: () => number } = {},
): FlagEvaluator {
  const byName = new Map(features.features.map((f) => [f.name, f]));
  const evaluate = (name: string, ctx: FlagContext = {}): Evaluation => {
    const f = byName.get(name);
    const off = { name: 'disabled', enabled: false, feature_enabled: false };
    if (f === undefined)
      return { enabled: false, variant: off, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' };
    if (!f.enabled) return { enabled: false, variant: off, reason: 'DISABLED' };
    let on = f.strategies.length === 0;
    let reason: Evaluation['reason'] = 'STATIC';
    for (const s of f.strategies) {
      const p = s.parameters ?? {};
      if (s.name === 'default') on = true;
      if (
        s.name === 'userWithId' &&
        String(p.userIds ?? '')
          .split(',')
          .includes(ctx.userId ?? '')
      ) {
        on = true;
        reason = 'TARGETING_MATCH';
      }
      if (s.name === 'flexibleRollout') {
        const id = ctx.userId ?? ctx.sessionId ?? String(Math.random());
        if (hash(`${String(p.groupId)}:${id}`) <= Number(p.rollout)) {
          on = true;
          reason = 'SPLIT';
        }
      }
      if (on) break;
    }
    const v = f.variants?.[0];
    const variant =
      on && v !== undefined
        ? {
            name: v.name,
            enabled: true,
            feature_enabled: true,
            ...(v.payload ? { payload: v.payload } : {}),
          }
        : { ...off, feature_enabled: on };
    return { enabled: on, variant, reason: on ? reason : 'DEFAULT' };
  };
  return {
    evaluate,
    isEnabled: (n, c) => evaluate(n, c).enabled,
    getVariant: (n, c) => evaluate(n, c).variant,
  };
}
