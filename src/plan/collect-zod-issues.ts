import type { z } from 'zod';
import type { Locator, PathSegment } from './document-locator.js';
import { isPlainObject } from './is-plain-object.js';
import { formatPath, type PlanIssue } from './plan-issue.js';

type ZodIssue = z.core.$ZodIssue;

/**
 * Turns zod issues into {@link PlanIssue}s with positions: unknown keys one
 * by one at the key, a union's issues from the branch that matched the
 * value's type, a missing value as `required` at its parent.
 * `root` is the value at `prefix` (issue paths are relative to it).
 */
export function collectZodIssues(
  zodIssues: readonly ZodIssue[],
  prefix: readonly PathSegment[],
  root: unknown,
  locator: Locator,
  out: PlanIssue[],
): void {
  for (const issue of zodIssues) {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const keyPath = [...path, key];
        out.push({
          path: formatPath(keyPath),
          message: `unknown key "${key}"`,
          ...locator.key(keyPath),
        });
      }
      continue;
    }
    if (issue.code === 'invalid_union') {
      const branch = bestUnionBranch(issue.errors);
      if (branch !== undefined) {
        collectZodIssues(branch, path, valueAt(root, issue.path as PathSegment[]), locator, out);
        continue;
      }
    }
    const missing = valueAt(root, issue.path as PathSegment[]) === undefined;
    out.push({
      path: formatPath(path),
      message: missing ? 'required' : issue.message,
      ...(missing ? locator.value(path.slice(0, -1)) : locator.value(path)),
    });
  }
}

/** The union branch that matched the value's type (its issues are deeper than the root), if any. */
function bestUnionBranch(branches: readonly (readonly ZodIssue[])[]): ZodIssue[] | undefined {
  const candidates = branches.filter(
    (issues) =>
      issues.length > 0 &&
      !issues.every((issue) => issue.path.length === 0 && issue.code === 'invalid_type'),
  );
  if (candidates.length === 0) return undefined;
  return [...candidates].sort((a, b) => a.length - b.length)[0] as ZodIssue[];
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isPlainObject(current)) current = current[String(segment)];
    else return undefined;
  }
  return current;
}

/** Error map giving short messages in the plan's terms (schema-level messages take precedence). */
export function friendlyMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      const expected = EXPECTED[issue.expected] ?? `expected ${issue.expected}`;
      return `${expected}, got ${describeValue(issue.input)}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        if (min === 0 && !issue.inclusive) return 'expected a positive number';
        return `expected a number ${issue.inclusive ? '≥' : '>'} ${min}`;
      }
      if (issue.origin === 'string') {
        return min <= 1 ? 'expected a non-empty string' : `expected at least ${min} characters`;
      }
      if (issue.origin === 'array' || issue.origin === 'set') {
        return `expected at least ${min} item${min === 1 ? '' : 's'}`;
      }
      return undefined;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        return `expected a number ${issue.inclusive ? '≤' : '<'} ${max}`;
      }
      if (issue.origin === 'string') return `expected at most ${max} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') {
        return `expected at most ${max} item${max === 1 ? '' : 's'}`;
      }
      return undefined;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${JSON.stringify(issue.values[0])}`
        : `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'regex'
        ? 'does not have the expected format'
        : `expected a valid ${issue.format}`;
    case 'invalid_union':
      return 'does not match any allowed form';
    default:
      return undefined;
  }
}

const EXPECTED: Record<string, string> = {
  string: 'expected a string',
  number: 'expected a number',
  int: 'expected an integer',
  boolean: 'expected true or false',
  object: 'expected a mapping',
  array: 'expected a list',
  null: 'expected null',
  bigint: 'expected an integer',
};

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    return value.length > 40 ? `a string` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return typeof value;
}
