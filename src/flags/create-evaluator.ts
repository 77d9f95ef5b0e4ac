import { hostname as osHostname } from 'node:os';
import {
  compileConstraint,
  constraintHolds,
  type CompiledConstraint,
  type ConstraintEnvironment,
} from './compile-constraint.js';
import { ContextField, fieldValue, type StaticContext } from './context-value.js';
import { parseAddress4, parseIPv4Range, parsePlainIPv4, type IPv4Range } from './ip-range.js';
import type { ClientFeaturesResponse, FlagContext, VariantPayload } from './model.js';
import { PrefixedMurmurHash, STRATEGY_HASH_SEED, VARIANT_HASH_SEED } from './normalized-hash.js';
import { StringList } from './string-list.js';

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

type Reason = EvaluationReason;

const EMPTY_CONTEXT: FlagContext = Object.freeze({});

const DISABLED_OFF: VariantResult = Object.freeze({
  name: 'disabled',
  enabled: false,
  feature_enabled: false,
});
const DISABLED_ON: VariantResult = Object.freeze({
  name: 'disabled',
  enabled: false,
  feature_enabled: true,
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function freezeEvaluation(e: Evaluation): Evaluation {
  return Object.freeze(e);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

interface CompileContext extends ConstraintEnvironment {
  random: () => number;
  hostname: () => string;
  segments: Map<number, CompiledConstraint[]>;
}

const NO_FIELD = new ContextField('');

/** A compiled variant list (feature or strategy variants); one shape for all. */
class CompiledVariants {
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
function compileVariants(
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
function overrideIndex(v: CompiledVariants, c: FlagContext): number {
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
function splitIndex(v: CompiledVariants, c: FlagContext): number {
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

// Strategy kinds.
const NEVER = 0;
const ALWAYS = 1;
const ROLLOUT = 2;
const USER_IDS = 3;
const RANDOM = 4;
const REMOTE_ADDRESS = 5;

// Where a rollout takes its stickiness id from.
const ID_DEFAULT = 0; // userId || sessionId || random
const ID_RANDOM = 1;
const ID_USER = 2; // gradualRolloutUserId
const ID_SESSION = 3; // gradualRolloutSessionId
const ID_FIELD = 4; // custom stickiness

interface RemoteRange {
  range: string;
  v4: IPv4Range | null;
}

/** A compiled strategy; one shape for all strategy kinds. */
class CompiledStrategy {
  /** Strategy name for `Evaluation.strategy` (undefined for "no strategies"). */
  name: string | undefined = undefined;
  reason: Reason = 'DEFAULT';
  kind = NEVER;
  /** Constraints, then the constraints of its segments. */
  constraints: CompiledConstraint[] = [];
  percentage = 0;
  idSource = ID_DEFAULT;
  idField: ContextField = NO_FIELD;
  hasher: PrefixedMurmurHash | null = null;
  userIds: Set<string> | null = null;
  ranges: RemoteRange[] = [];
  random: () => number = Math.random;
  variants: CompiledVariants | null = null;
}

function rolloutId(s: CompiledStrategy, c: FlagContext): string | undefined {
  switch (s.idSource) {
    case ID_DEFAULT: {
      const v = c.userId || c.sessionId;
      return v ? str(v) : String(Math.round(s.random() * 10000) + 1);
    }
    case ID_RANDOM:
      return String(Math.round(s.random() * 10000) + 1);
    case ID_USER: {
      const v = c.userId;
      return v ? str(v) : undefined;
    }
    case ID_SESSION: {
      const v = c.sessionId;
      return v ? str(v) : undefined;
    }
    default:
      return fieldValue(s.idField, c);
  }
}

function rolloutMatches(s: CompiledStrategy, c: FlagContext): boolean {
  const id = rolloutId(s, c);
  if (!id) return false;
  return s.percentage >= 100 || (s.hasher!.hash(id) % 100) + 1 <= s.percentage;
}

function remoteAddressMatches(s: CompiledStrategy, c: FlagContext): boolean {
  const address = c.remoteAddress;
  const text = typeof address === 'string' ? address : '';
  let plain = -2;
  for (const r of s.ranges) {
    if (r.range === address) return true;
    const v4 = r.v4;
    if (v4 === null) continue;
    if (plain === -2) plain = parsePlainIPv4(text);
    if (plain >= 0) {
      if ((plain & v4.mask) >>> 0 === v4.network) return true;
      continue;
    }
    const parsed = parseAddress4(text);
    if (parsed !== null && parsed.isInSubnet(v4.address)) return true;
  }
  return false;
}

/** Whether strategy `s` (constraints, segments and its own rule) is on for `c`. */
function strategyMatches(s: CompiledStrategy, c: FlagContext): boolean {
  const ks = s.constraints;
  for (let i = 0; i < ks.length; i++) if (!constraintHolds(ks[i]!, c)) return false;
  switch (s.kind) {
    case ALWAYS:
      return true;
    case ROLLOUT:
      return rolloutMatches(s, c);
    case USER_IDS: {
      const u = c.userId;
      return typeof u === 'string' && s.userIds!.has(u);
    }
    case RANDOM:
      return s.percentage >= Math.floor(s.random() * 100) + 1;
    case REMOTE_ADDRESS:
      return remoteAddressMatches(s, c);
    default:
      return false;
  }
}

function setRollout(
  s: CompiledStrategy,
  percentage: number,
  groupId: string,
  idSource: number,
  idField: ContextField,
): void {
  if (!(percentage > 0)) {
    s.kind = NEVER;
    return;
  }
  // A 100 % rollout on default/random stickiness always finds an id: on for everyone.
  s.kind =
    percentage >= 100 && (idSource === ID_DEFAULT || idSource === ID_RANDOM) ? ALWAYS : ROLLOUT;
  s.percentage = percentage;
  s.idSource = idSource;
  s.idField = idField;
  s.hasher = new PrefixedMurmurHash(`${groupId}:`, STRATEGY_HASH_SEED);
}

/** Sets the strategy's own rule (kind, parameters) and its reason. */
function compileStrategyRule(
  s: CompiledStrategy,
  name: string,
  params: Record<string, unknown>,
  cx: CompileContext,
): void {
  const targeted: Reason = s.constraints.length > 0 ? 'TARGETING_MATCH' : 'STATIC';
  switch (name) {
    case 'default':
      s.kind = ALWAYS;
      s.reason = targeted;
      return;
    case 'userWithId':
      s.kind = USER_IDS;
      s.userIds = new Set(params.userIds ? str(params.userIds).split(/\s*,\s*/) : []);
      s.reason = 'TARGETING_MATCH';
      return;
    case 'gradualRolloutUserId':
    case 'gradualRolloutSessionId': {
      const percentage = Number(params.percentage);
      setRollout(
        s,
        percentage,
        params.groupId ? str(params.groupId) : '',
        name === 'gradualRolloutUserId' ? ID_USER : ID_SESSION,
        NO_FIELD,
      );
      s.reason = percentage < 100 ? 'SPLIT' : 'TARGETING_MATCH';
      return;
    }
    case 'gradualRolloutRandom': {
      const percentage = Number(params.percentage);
      s.kind = Number.isNaN(percentage) ? NEVER : RANDOM;
      s.percentage = percentage;
      s.reason = percentage < 100 ? 'SPLIT' : targeted;
      return;
    }
    case 'flexibleRollout': {
      const percentage = Number(params.rollout);
      const stickiness = params.stickiness ? str(params.stickiness) : 'default';
      const source =
        stickiness === 'default' ? ID_DEFAULT : stickiness === 'random' ? ID_RANDOM : ID_FIELD;
      setRollout(
        s,
        percentage,
        params.groupId ? str(params.groupId) : '',
        source,
        source === ID_FIELD ? new ContextField(stickiness, cx.staticContext) : NO_FIELD,
      );
      s.reason = percentage < 100 ? 'SPLIT' : source === ID_FIELD ? 'TARGETING_MATCH' : targeted;
      return;
    }
    case 'remoteAddress':
      s.reason = 'TARGETING_MATCH';
      if (!params.IPs) return;
      s.kind = REMOTE_ADDRESS;
      s.ranges = str(params.IPs)
        .split(/\s*,\s*/)
        .map((range) => ({ range, v4: parseIPv4Range(range) }));
      return;
    case 'applicationHostname': {
      s.reason = 'TARGETING_MATCH';
      if (!params.hostNames) return;
      const names = str(params.hostNames)
        .toLowerCase()
        .split(/\s*,\s*/);
      s.kind = names.includes(cx.hostname()) ? ALWAYS : NEVER;
      return;
    }
    default:
      return;
  }
}

/** Compiles one strategy, or returns null when it is disabled (skipped). Unknown or malformed ones never match. */
function compileStrategy(raw: unknown, cx: CompileContext): CompiledStrategy | null {
  const s = new CompiledStrategy();
  s.random = cx.random;
  if (!isRecord(raw) || typeof raw.name !== 'string') return s;
  if (raw.disabled === true) return null;
  const name = raw.name;
  s.name = name;
  const params = isRecord(raw.parameters) ? raw.parameters : {};
  let failed = false;
  if (Array.isArray(raw.constraints)) {
    for (const constraint of raw.constraints as unknown[]) {
      if (constraint === null || constraint === undefined) failed = true;
      else s.constraints.push(compileConstraint(constraint, cx));
    }
  } else if (raw.constraints !== undefined && raw.constraints !== null) {
    failed = true;
  }
  if (Array.isArray(raw.segments)) {
    for (const id of raw.segments as unknown[]) {
      const segment = typeof id === 'number' ? cx.segments.get(id) : undefined;
      if (segment === undefined) failed = true;
      else s.constraints.push(...segment);
    }
  } else if (raw.segments !== undefined && raw.segments !== null) {
    failed = true;
  }
  compileStrategyRule(s, name, params, cx);
  if (failed) s.kind = NEVER;
  if (Array.isArray(raw.variants) && raw.variants.length > 0) {
    const first: unknown = raw.variants[0];
    const own = isRecord(first) && first.stickiness ? str(first.stickiness) : '';
    const stickiness = own || (params.stickiness ? str(params.stickiness) : 'default');
    s.variants = compileVariants(raw.variants, str(params.groupId), stickiness, cx);
  }
  return s;
}

interface StrategyResults {
  readonly plain: Evaluation;
  readonly strategyOverride: Evaluation[];
  readonly strategySplit: Evaluation[];
  readonly featureOverride: Evaluation[];
  readonly featureSplit: Evaluation[];
}

interface CompiledDependency {
  readonly name: string;
  parent: CompiledFeature | null;
  readonly expectEnabled: boolean;
  readonly variants: Set<string> | null;
}

interface CompiledFeature {
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

function brokenFeature(name: string, message: string): CompiledFeature {
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

function compileFeature(
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
    const always = new CompiledStrategy();
    always.kind = ALWAYS;
    always.reason = 'STATIC';
    strategies.push(always);
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

function compileSegments(raw: unknown, cx: CompileContext): void {
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

/** Index of the strategy that enables `f`, -1 when disabled, -2 when none matched. */
function matchIndex(f: CompiledFeature, c: FlagContext): number {
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

function evaluateFeature(f: CompiledFeature, c: FlagContext): Evaluation {
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
