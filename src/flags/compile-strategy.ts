import {
  compileConstraint,
  constraintHolds,
  type CompiledConstraint,
} from './compile-constraint.js';
import { isRecord, NO_FIELD, str, type CompileContext } from './compile-context.js';
import { compileVariants, type CompiledVariants } from './compile-variants.js';
import { ContextField, fieldValue } from './context-value.js';
import type { EvaluationReason as Reason } from './evaluation.js';
import { parseAddress4, parseIPv4Range, parsePlainIPv4, type IPv4Range } from './ip-range.js';
import type { FlagContext } from './model.js';
import { PrefixedMurmurHash, STRATEGY_HASH_SEED } from './normalized-hash.js';

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
export class CompiledStrategy {
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
export function strategyMatches(s: CompiledStrategy, c: FlagContext): boolean {
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
export function compileStrategy(raw: unknown, cx: CompileContext): CompiledStrategy | null {
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

/** The strategy of an enabled feature that has no strategies: on for everyone (reason STATIC). */
export function alwaysOnStrategy(): CompiledStrategy {
  const always = new CompiledStrategy();
  always.kind = ALWAYS;
  always.reason = 'STATIC';
  return always;
}
