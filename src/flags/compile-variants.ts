import { isRecord, NO_FIELD, type CompileContext } from './compile-context.js';
import { ContextField, fieldValue } from './context-value.js';
import type { VariantResult } from './evaluation.js';
import type { FlagContext, VariantPayload } from './model.js';
import { PrefixedMurmurHash, VARIANT_HASH_SEED } from './normalized-hash.js';
import { StringList } from './string-list.js';

/** A compiled variant list (feature or strategy variants); one shape for all. */
export class CompiledVariants {
  readonly results: VariantResult[] = [];
  readonly weights: number[] = [];
  total = 0;
  /** Two or more positive weights: picking one is a split. */
  isSplit = false;
  /** Overrides in variant order: variant index, field, accepted values. */
  readonly overrideIndex: number[] = [];
  readonly overrideField: ContextField[] = [];
  readonly overrideValues: StringList[] = [];
  /** Stickiness `default`: userId, sessionId, remoteAddress, else random. */
  stickyDefault = true;
  stickyField: ContextField = NO_FIELD;
  readonly hasher: PrefixedMurmurHash;
  readonly random: () => number;

  constructor(groupId: string, random: () => number) {
    this.hasher = new PrefixedMurmurHash(`${groupId}:`, VARIANT_HASH_SEED);
    this.random = random;
  }
}

function variantResult(name: string, payload: unknown): VariantResult {
  if (isRecord(payload)) {
    return Object.freeze({
      name,
      enabled: true,
      feature_enabled: true,
      payload: Object.freeze({ ...payload }) as unknown as VariantPayload,
    });
  }
  return Object.freeze({ name, enabled: true, feature_enabled: true });
}

/** Compiles a variant list, or null when it is empty, malformed or has no weight. */
export function compileVariants(
  raw: unknown,
  groupId: string,
  stickiness: string,
  cx: CompileContext,
): CompiledVariants | null {
  if (!Array.isArray(raw) || raw.length === 0) return null;
  const v = new CompiledVariants(groupId, cx.random);
  let positive = 0;
  for (let index = 0; index < raw.length; index++) {
    const item: unknown = raw[index];
    if (!isRecord(item) || typeof item.name !== 'string') return null;
    const weight = item.weight;
    if (typeof weight !== 'number' || !Number.isFinite(weight)) return null;
    v.results.push(variantResult(item.name, item.payload));
    v.weights.push(weight);
    v.total += weight;
    if (weight > 0) positive++;
    if (Array.isArray(item.overrides)) {
      for (const o of item.overrides as unknown[]) {
        if (!isRecord(o) || typeof o.contextName !== 'string' || !Array.isArray(o.values)) continue;
        const values = new StringList(
          (o.values as unknown[]).filter((x): x is string => typeof x === 'string'),
        );
        v.overrideIndex.push(index);
        v.overrideField.push(new ContextField(o.contextName, cx.staticContext));
        v.overrideValues.push(values);
      }
    }
  }
  if (!(v.total > 0)) return null;
  v.isSplit = positive >= 2;
  if (stickiness !== 'default') {
    v.stickyDefault = false;
    v.stickyField = new ContextField(stickiness, cx.staticContext);
  }
  return v;
}

/** Index of the variant forced by an override (first variant in list order), or -1. */
export function overrideIndex(v: CompiledVariants, c: FlagContext): number {
  const fields = v.overrideField;
  for (let i = 0; i < fields.length; i++) {
    const value = fieldValue(fields[i]!, c);
    if (value !== undefined && v.overrideValues[i]!.has(value)) return v.overrideIndex[i]!;
  }
  return -1;
}

/** unleash-client's `getSeed`. */
function variantSeed(v: CompiledVariants, c: FlagContext): string {
  if (v.stickyDefault) {
    const u = c.userId;
    if (typeof u === 'string' && u !== '') return u;
    const s = c.sessionId;
    if (typeof s === 'string' && s !== '') return s;
    const r = c.remoteAddress;
    if (typeof r === 'string' && r !== '') return r;
  } else {
    const value = fieldValue(v.stickyField, c);
    if (value) return value;
  }
  return String(Math.round(v.random() * 100000));
}

/** Index of the variant picked by weight, or -1. */
export function splitIndex(v: CompiledVariants, c: FlagContext): number {
  const target = (v.hasher.hash(variantSeed(v, c)) % v.total) + 1;
  const weights = v.weights;
  let counter = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (w === 0) continue;
    counter += w;
    if (counter >= target) return i;
  }
  return -1;
}
