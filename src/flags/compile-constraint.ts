import { RE2JS } from 're2js';
import SemVer from 'semver/classes/semver.js';
import { contextGetter, type StaticContext } from './context-value.js';
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

/** A compiled test on an evaluation context. */
export type ContextPredicate = (context: FlagContext) => boolean;

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

const FALSE: ContextPredicate = () => false;
const TRUE: ContextPredicate = () => true;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

function compileIn(get: (c: FlagContext) => string | undefined, values: string[], negate: boolean) {
  if (values.length === 1) {
    const only = values[0];
    return negate ? (c: FlagContext) => get(c) !== only : (c: FlagContext) => get(c) === only;
  }
  const set = new Set(values);
  return negate
    ? (c: FlagContext) => {
        const v = get(c);
        return v === undefined || !set.has(v);
      }
    : (c: FlagContext) => {
        const v = get(c);
        return v !== undefined && set.has(v);
      };
}

function compileString(
  operator: string,
  get: (c: FlagContext) => string | undefined,
  rawValues: string[],
  caseInsensitive: boolean,
): ContextPredicate {
  const values = caseInsensitive ? rawValues.map((v) => v.toLocaleLowerCase()) : rawValues;
  const n = values.length;
  const read = caseInsensitive ? (c: FlagContext) => get(c)?.toLocaleLowerCase() : get;
  switch (operator) {
    case 'STR_STARTS_WITH':
      return (c) => {
        const v = read(c);
        if (v === undefined) return false;
        for (let i = 0; i < n; i++) if (v.startsWith(values[i]!)) return true;
        return false;
      };
    case 'STR_ENDS_WITH':
      return (c) => {
        const v = read(c);
        if (v === undefined) return false;
        for (let i = 0; i < n; i++) if (v.endsWith(values[i]!)) return true;
        return false;
      };
    default:
      return (c) => {
        const v = read(c);
        if (v === undefined) return false;
        for (let i = 0; i < n; i++) if (v.includes(values[i]!)) return true;
        return false;
      };
  }
}

function compileNumber(
  operator: string,
  get: (c: FlagContext) => string | undefined,
  rawValue: unknown,
): ContextPredicate {
  const target = Number(rawValue);
  if (Number.isNaN(target)) return FALSE;
  switch (operator) {
    case 'NUM_EQ':
      return (c) => Number(get(c)) === target;
    case 'NUM_GT':
      return (c) => Number(get(c)) > target;
    case 'NUM_GTE':
      return (c) => Number(get(c)) >= target;
    case 'NUM_LT':
      return (c) => Number(get(c)) < target;
    default:
      return (c) => Number(get(c)) <= target;
  }
}

function compileDate(
  operator: string,
  rawValue: unknown,
  env: ConstraintEnvironment,
): ContextPredicate {
  const target = new Date(rawValue as string).getTime();
  if (Number.isNaN(target)) return FALSE;
  const { now } = env;
  const current = (c: FlagContext): number => {
    const t = c.currentTime;
    if (!t) return now().getTime();
    return t instanceof Date ? t.getTime() : new Date(t).getTime();
  };
  return operator === 'DATE_AFTER' ? (c) => current(c) > target : (c) => current(c) < target;
}

function compileSemver(
  operator: string,
  get: (c: FlagContext) => string | undefined,
  rawValue: unknown,
): ContextPredicate {
  let target: SemVer;
  try {
    target = new SemVer(rawValue as string);
  } catch {
    return FALSE;
  }
  const compare = (c: FlagContext): number | null => {
    const v = get(c);
    if (!v || v.startsWith('v')) return null;
    let parsed: SemVer;
    try {
      parsed = new SemVer(v);
    } catch {
      return null;
    }
    return parsed.compare(target);
  };
  switch (operator) {
    case 'SEMVER_EQ':
      return (c) => compare(c) === 0;
    case 'SEMVER_GT':
      return (c) => {
        const r = compare(c);
        return r !== null && r > 0;
      };
    case 'SEMVER_GTE':
      return (c) => {
        const r = compare(c);
        return r !== null && r >= 0;
      };
    case 'SEMVER_LT':
      return (c) => {
        const r = compare(c);
        return r !== null && r < 0;
      };
    default:
      return (c) => {
        const r = compare(c);
        return r !== null && r <= 0;
      };
  }
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

function compileCidr(
  get: (c: FlagContext) => string | undefined,
  values: string[],
): ContextPredicate {
  const v4: IPv4Range[] = [];
  const v6: NonNullable<ReturnType<typeof parseIPv6Range>>[] = [];
  for (const value of values) {
    const r4 = parseIPv4Range(value);
    if (r4 !== null) {
      v4.push(r4);
      continue;
    }
    const r6 = parseIPv6Range(value);
    if (r6 !== null) v6.push(r6);
  }
  if (v4.length === 0 && v6.length === 0) return FALSE;
  return (c) => {
    const v = get(c);
    if (v === undefined) return false;
    const plain = parsePlainIPv4(v);
    if (plain >= 0) {
      for (const r of v4) if (ipv4InRange(plain, r)) return true;
      return false;
    }
    const a4 = parseAddress4(v);
    if (a4 !== null) {
      for (const r of v4) if (addressMatches(a4, r.address)) return true;
      return false;
    }
    const a6 = parseAddress6(v);
    if (a6 !== null) {
      for (const r of v6) if (addressMatches(a6, r)) return true;
    }
    return false;
  };
}

/**
 * Compiles one constraint (as found in a client features payload; the input
 * is not trusted) into a predicate. Semantics follow `unleash-client` 6.x:
 * list values are cleaned (empty entries dropped, trimmed), IN/NOT_IN compare
 * exactly, STR_* honour `caseInsensitive`, NUM_* compare `Number()`s,
 * DATE_* compare the context's `currentTime` (or the clock), SEMVER_* need a
 * valid semver in the context (no leading `v`), REGEX is RE2 syntax
 * (re2js, unanchored search), IN_CIDR takes IPv4/IPv6 addresses and ranges.
 * `inverted` negates the operator's result.
 *
 * Fails closed — the predicate is constant false, even when `inverted` — for
 * an unknown operator, a constraint that is not an object, malformed `values`
 * (not an array of strings), and a REGEX pattern RE2 rejects (`unleash-client`
 * would return true for an inverted broken regex; cutover does not).
 */
export function compileConstraint(raw: unknown, env: ConstraintEnvironment): ContextPredicate {
  try {
    return compileConstraintUnsafe(raw, env);
  } catch {
    return FALSE;
  }
}

function compileConstraintUnsafe(raw: unknown, env: ConstraintEnvironment): ContextPredicate {
  if (!isRecord(raw)) return FALSE;
  const operator = raw.operator;
  const field = raw.contextName;
  if (typeof operator !== 'string' || typeof field !== 'string') return FALSE;
  const caseInsensitive = raw.caseInsensitive === true;
  const get = contextGetter(field, env.staticContext);
  let predicate: ContextPredicate;
  switch (operator) {
    case 'IN':
    case 'NOT_IN': {
      const values = cleanValues(raw.values);
      if (values === null) return FALSE;
      predicate = compileIn(get, values, operator === 'NOT_IN');
      break;
    }
    case 'STR_CONTAINS':
    case 'STR_STARTS_WITH':
    case 'STR_ENDS_WITH': {
      const values = cleanValues(raw.values);
      if (values === null) return FALSE;
      predicate =
        values.length === 0 ? FALSE : compileString(operator, get, values, caseInsensitive);
      break;
    }
    case 'NUM_EQ':
    case 'NUM_GT':
    case 'NUM_GTE':
    case 'NUM_LT':
    case 'NUM_LTE':
      predicate = compileNumber(operator, get, raw.value);
      break;
    case 'DATE_AFTER':
    case 'DATE_BEFORE':
      predicate = compileDate(operator, raw.value, env);
      break;
    case 'SEMVER_EQ':
    case 'SEMVER_GT':
    case 'SEMVER_GTE':
    case 'SEMVER_LT':
    case 'SEMVER_LTE':
      predicate = compileSemver(operator, get, raw.value);
      break;
    case 'REGEX': {
      const re = compileRe2(raw.value, caseInsensitive);
      if (re === null) return FALSE;
      predicate = (c) => {
        const v = get(c);
        return v !== undefined && re.test(v);
      };
      break;
    }
    case 'IN_CIDR': {
      const values = cleanValues(raw.values);
      if (values === null) return FALSE;
      predicate = compileCidr(get, values);
      break;
    }
    default:
      return FALSE;
  }
  if (raw.inverted === true) {
    if (predicate === FALSE) return TRUE;
    const inner = predicate;
    return (c) => !inner(c);
  }
  return predicate;
}
