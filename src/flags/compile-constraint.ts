import { RE2JS } from 're2js';
import SemVer from 'semver/classes/semver.js';
import type { Address6 } from 'ip-address';
import { isRecord } from './compile-context.js';
import { ContextField, fieldValue, type StaticContext } from './context-value.js';
import {
  addressMatches,
  ipv4InRange,
  parseAddress4,
  parseAddress6,
  parseIPv4Range,
  parseIPv6Range,
  parsePlainIPv4,
  type IPv4Range,
} from './ip-range.js';
import type { FlagContext } from './model.js';
import { StringList } from './string-list.js';

/** What a compiled constraint may depend on besides the context. */
export interface ConstraintEnvironment {
  /** Clock used by DATE_* operators when the context has no `currentTime`. */
  now: () => Date;
  staticContext: StaticContext;
}

/** Every constraint operator of the Unleash client specification (v5.x). */
export const CONSTRAINT_OPERATORS = [
  'IN',
  'NOT_IN',
  'STR_CONTAINS',
  'STR_STARTS_WITH',
  'STR_ENDS_WITH',
  'NUM_EQ',
  'NUM_GT',
  'NUM_GTE',
  'NUM_LT',
  'NUM_LTE',
  'DATE_AFTER',
  'DATE_BEFORE',
  'SEMVER_EQ',
  'SEMVER_GT',
  'SEMVER_GTE',
  'SEMVER_LT',
  'SEMVER_LTE',
  'REGEX',
  'IN_CIDR',
] as const;

/** One of {@link CONSTRAINT_OPERATORS}. */
export type ConstraintOperator = (typeof CONSTRAINT_OPERATORS)[number];

/** Operators that take `values` (a list); the others take `value`. */
export const LIST_OPERATORS: ReadonlySet<string> = new Set([
  'IN',
  'NOT_IN',
  'STR_CONTAINS',
  'STR_STARTS_WITH',
  'STR_ENDS_WITH',
  'IN_CIDR',
]);

// Compiled operator codes.
const CONSTANT = 0;
const IN = 1;
const IN_ONE = 2;
const STR_CONTAINS = 3;
const STR_STARTS_WITH = 4;
const STR_ENDS_WITH = 5;
const NUM_EQ = 6;
const NUM_GT = 7;
const NUM_GTE = 8;
const NUM_LT = 9;
const NUM_LTE = 10;
const DATE_AFTER = 11;
const DATE_BEFORE = 12;
const SEMVER_EQ = 13;
const SEMVER_GT = 14;
const SEMVER_GTE = 15;
const SEMVER_LT = 16;
const SEMVER_LTE = 17;
const REGEX = 18;
const IN_CIDR = 19;

const NUMBER_OPS: Record<string, number> = { NUM_EQ, NUM_GT, NUM_GTE, NUM_LT, NUM_LTE };
const SEMVER_OPS: Record<string, number> = {
  SEMVER_EQ,
  SEMVER_GT,
  SEMVER_GTE,
  SEMVER_LT,
  SEMVER_LTE,
};
const STRING_OPS: Record<string, number> = { STR_CONTAINS, STR_STARTS_WITH, STR_ENDS_WITH };

const NO_FIELD = new ContextField('');
const NO_STRINGS: readonly string[] = [];
const NO_V4: readonly IPv4Range[] = [];
const NO_V6: readonly Address6[] = [];

/**
 * A constraint compiled for evaluation with {@link constraintHolds}. Every
 * instance has the same shape (fields unused by an operator hold neutral
 * values) so the evaluation loop stays monomorphic.
 */
export class CompiledConstraint {
  op = CONSTANT;
  /** Result of a CONSTANT constraint (after inversion). */
  constant = false;
  field: ContextField = NO_FIELD;
  /** Negate the operator's result. */
  negate = false;
  /** IN_ONE value. */
  single = '';
  set: StringList | null = null;
  /** STR_* values (lower-cased when `caseInsensitive`). */
  strings: readonly string[] = NO_STRINGS;
  caseInsensitive = false;
  /** NUM_* target, DATE_* target in ms since the epoch. */
  number = 0;
  semver: SemVer | null = null;
  regex: RE2JS | null = null;
  v4: readonly IPv4Range[] = NO_V4;
  v6: readonly Address6[] = NO_V6;
  now: (() => Date) | null = null;
}

function constant(result: boolean): CompiledConstraint {
  const k = new CompiledConstraint();
  k.constant = result;
  return k;
}

/**
 * `unleash-client`'s `cleanValues`: drop empty entries, trim the others.
 * Returns null when `values` is malformed (not an array of strings); a missing
 * list counts as empty.
 */
function cleanValues(values: unknown): string[] | null {
  if (values === undefined || values === null) return [];
  if (!Array.isArray(values)) return null;
  const out: string[] = [];
  for (const v of values as unknown[]) {
    if (v === '' || v === null || v === undefined) continue;
    if (typeof v !== 'string') return null;
    out.push(v.trim());
  }
  return out;
}

/** Compiles an RE2 pattern the way `unleash-client` does, or null when RE2 rejects it. */
export function compileRe2(pattern: unknown, caseInsensitive: boolean): RE2JS | null {
  if (typeof pattern !== 'string') return null;
  try {
    return RE2JS.compile(pattern, caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
  } catch {
    return null;
  }
}

/**
 * Compiles one constraint (as found in a client features payload; the input
 * is not trusted). Semantics follow `unleash-client` 6.x: list values are
 * cleaned (empty entries dropped, trimmed), IN/NOT_IN compare exactly, STR_*
 * honour `caseInsensitive`, NUM_* compare `Number()`s, DATE_* compare the
 * context's `currentTime` (or the clock), SEMVER_* need a valid semver in the
 * context (no leading `v`), REGEX is RE2 syntax (re2js, unanchored search),
 * IN_CIDR takes IPv4/IPv6 addresses and ranges. `inverted` negates the
 * operator's result.
 *
 * Fails closed — the constraint never holds, even when `inverted` — for an
 * unknown operator, a constraint that is not an object, malformed `values`
 * (not an array of strings), and a REGEX pattern RE2 rejects (`unleash-client`
 * would let an inverted broken regex hold; cutover does not). Never throws.
 */
export function compileConstraint(raw: unknown, env: ConstraintEnvironment): CompiledConstraint {
  try {
    return compileUnsafe(raw, env);
  } catch {
    return constant(false);
  }
}

function compileUnsafe(raw: unknown, env: ConstraintEnvironment): CompiledConstraint {
  if (!isRecord(raw)) return constant(false);
  const operator = raw.operator;
  const name = raw.contextName;
  if (typeof operator !== 'string' || typeof name !== 'string') return constant(false);
  const inverted = raw.inverted === true;
  const caseInsensitive = raw.caseInsensitive === true;
  const k = new CompiledConstraint();
  k.field = new ContextField(name, env.staticContext);
  k.negate = inverted;
  // An operator whose result is false whatever the context: the constraint is `inverted`.
  const alwaysFalse = () => constant(inverted);
  switch (operator) {
    case 'IN':
    case 'NOT_IN': {
      const values = cleanValues(raw.values);
      if (values === null) return constant(false);
      k.negate = inverted !== (operator === 'NOT_IN');
      if (values.length === 0) return constant(k.negate);
      if (values.length === 1) {
        k.op = IN_ONE;
        k.single = values[0]!;
      } else {
        k.op = IN;
        k.set = new StringList(values);
      }
      return k;
    }
    case 'STR_CONTAINS':
    case 'STR_STARTS_WITH':
    case 'STR_ENDS_WITH': {
      const values = cleanValues(raw.values);
      if (values === null) return constant(false);
      if (values.length === 0) return alwaysFalse();
      k.op = STRING_OPS[operator]!;
      k.caseInsensitive = caseInsensitive;
      k.strings = caseInsensitive ? values.map((v) => v.toLocaleLowerCase()) : values;
      return k;
    }
    case 'NUM_EQ':
    case 'NUM_GT':
    case 'NUM_GTE':
    case 'NUM_LT':
    case 'NUM_LTE': {
      const target = Number(raw.value);
      if (Number.isNaN(target)) return alwaysFalse();
      k.op = NUMBER_OPS[operator]!;
      k.number = target;
      return k;
    }
    case 'DATE_AFTER':
    case 'DATE_BEFORE': {
      const target = new Date(raw.value as string).getTime();
      if (Number.isNaN(target)) return alwaysFalse();
      k.op = operator === 'DATE_AFTER' ? DATE_AFTER : DATE_BEFORE;
      k.number = target;
      k.now = env.now;
      return k;
    }
    case 'SEMVER_EQ':
    case 'SEMVER_GT':
    case 'SEMVER_GTE':
    case 'SEMVER_LT':
    case 'SEMVER_LTE': {
      try {
        k.semver = new SemVer(raw.value as string);
      } catch {
        return alwaysFalse();
      }
      k.op = SEMVER_OPS[operator]!;
      return k;
    }
    case 'REGEX': {
      const re = compileRe2(raw.value, caseInsensitive);
      if (re === null) return constant(false);
      k.op = REGEX;
      k.regex = re;
      return k;
    }
    case 'IN_CIDR': {
      const values = cleanValues(raw.values);
      if (values === null) return constant(false);
      const v4: IPv4Range[] = [];
      const v6: Address6[] = [];
      for (const value of values) {
        const r4 = parseIPv4Range(value);
        if (r4 !== null) v4.push(r4);
        else {
          const r6 = parseIPv6Range(value);
          if (r6 !== null) v6.push(r6);
        }
      }
      if (v4.length === 0 && v6.length === 0) return alwaysFalse();
      k.op = IN_CIDR;
      k.v4 = v4;
      k.v6 = v6;
      return k;
    }
    default:
      return constant(false);
  }
}

function semverCompare(k: CompiledConstraint, c: FlagContext): number | null {
  const v = fieldValue(k.field, c);
  if (!v || v.startsWith('v')) return null;
  let parsed: SemVer;
  try {
    parsed = new SemVer(v);
  } catch {
    return null;
  }
  return parsed.compare(k.semver!);
}

function cidrMatches(k: CompiledConstraint, c: FlagContext): boolean {
  const v = fieldValue(k.field, c);
  if (v === undefined) return false;
  const plain = parsePlainIPv4(v);
  if (plain >= 0) {
    for (const r of k.v4) if (ipv4InRange(plain, r)) return true;
    return false;
  }
  const a4 = parseAddress4(v);
  if (a4 !== null) {
    for (const r of k.v4) if (addressMatches(a4, r.address)) return true;
    return false;
  }
  const a6 = parseAddress6(v);
  if (a6 !== null) {
    for (const r of k.v6) if (addressMatches(a6, r)) return true;
  }
  return false;
}

function stringMatches(k: CompiledConstraint, c: FlagContext): boolean {
  let v = fieldValue(k.field, c);
  if (v === undefined) return false;
  if (k.caseInsensitive) v = v.toLocaleLowerCase();
  const values = k.strings;
  const n = values.length;
  switch (k.op) {
    case STR_STARTS_WITH:
      for (let i = 0; i < n; i++) if (v.startsWith(values[i]!)) return true;
      return false;
    case STR_ENDS_WITH:
      for (let i = 0; i < n; i++) if (v.endsWith(values[i]!)) return true;
      return false;
    default:
      for (let i = 0; i < n; i++) if (v.includes(values[i]!)) return true;
      return false;
  }
}

function currentTime(k: CompiledConstraint, c: FlagContext): number {
  const t = c.currentTime;
  if (!t) return k.now!().getTime();
  return t instanceof Date ? t.getTime() : new Date(t).getTime();
}

/** Whether compiled constraint `k` holds for context `c`. May throw on hostile contexts (callers catch). */
export function constraintHolds(k: CompiledConstraint, c: FlagContext): boolean {
  let result: boolean;
  switch (k.op) {
    case CONSTANT:
      return k.constant;
    case IN_ONE:
      result = fieldValue(k.field, c) === k.single;
      break;
    case IN: {
      const v = fieldValue(k.field, c);
      result = v !== undefined && k.set!.has(v);
      break;
    }
    case STR_CONTAINS:
    case STR_STARTS_WITH:
    case STR_ENDS_WITH:
      result = stringMatches(k, c);
      break;
    case NUM_EQ:
      result = Number(fieldValue(k.field, c)) === k.number;
      break;
    case NUM_GT:
      result = Number(fieldValue(k.field, c)) > k.number;
      break;
    case NUM_GTE:
      result = Number(fieldValue(k.field, c)) >= k.number;
      break;
    case NUM_LT:
      result = Number(fieldValue(k.field, c)) < k.number;
      break;
    case NUM_LTE:
      result = Number(fieldValue(k.field, c)) <= k.number;
      break;
    case DATE_AFTER:
      result = currentTime(k, c) > k.number;
      break;
    case DATE_BEFORE:
      result = currentTime(k, c) < k.number;
      break;
    case SEMVER_EQ:
      result = semverCompare(k, c) === 0;
      break;
    case SEMVER_GT: {
      const r = semverCompare(k, c);
      result = r !== null && r > 0;
      break;
    }
    case SEMVER_GTE: {
      const r = semverCompare(k, c);
      result = r !== null && r >= 0;
      break;
    }
    case SEMVER_LT: {
      const r = semverCompare(k, c);
      result = r !== null && r < 0;
      break;
    }
    case SEMVER_LTE: {
      const r = semverCompare(k, c);
      result = r !== null && r <= 0;
      break;
    }
    case REGEX: {
      const v = fieldValue(k.field, c);
      result = v !== undefined && k.regex!.test(v);
      break;
    }
    case IN_CIDR:
      result = cidrMatches(k, c);
      break;
    default:
      return false;
  }
  return result !== k.negate;
}
