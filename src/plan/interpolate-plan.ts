import { isMap, isScalar, isSeq, parse as parseYamlValue, type Document } from 'yaml';
import type { PathSegment, Position } from './document-locator.js';
import { interpolate } from './interpolate.js';
import { isPlainObject } from './is-plain-object.js';
import { formatPath, type PlanIssue } from './plan-issue.js';

/**
 * Replaces `${NAME}` in every string scalar of `doc` (in place, from `node`
 * at `path` down), reporting each unset variable in `issues` with its
 * position. An unquoted scalar whose value becomes a YAML number or boolean
 * takes that type.
 */
export function interpolateDocument(
  doc: Document,
  env: Readonly<Record<string, string | undefined>>,
  path: PathSegment[],
  node: unknown,
  issues: PlanIssue[],
  at: (offset: number) => Position,
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      interpolateDocument(doc, env, [...path, key], pair.value, issues, at);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) =>
      interpolateDocument(doc, env, [...path, index], item, issues, at),
    );
  } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
    const { value, missing } = interpolate(node.value, env);
    for (const variable of missing) {
      issues.push({
        path: formatPath(path),
        message: `environment variable ${variable.name} is not set`,
        ...(node.range ? at(node.range[0]) : {}),
      });
    }
    node.value = value;
    if (node.type === 'PLAIN' && value !== '') {
      // An unquoted `${N}` takes the type its value has in YAML (number, boolean).
      try {
        const typed: unknown = parseYamlValue(value);
        if (typeof typed === 'number' || typeof typed === 'boolean') node.value = typed;
      } catch {
        // not a scalar: keep the string
      }
    }
  }
}

/**
 * Replaces `${NAME}` in every string of `value` (a copy is returned),
 * reporting each unset variable in `issues` by path.
 */
export function interpolateValue(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path: PathSegment[],
  issues: PlanIssue[],
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    const result = interpolate(value, env);
    for (const variable of result.missing) {
      issues.push({
        path: formatPath(path),
        message: `environment variable ${variable.name} is not set`,
      });
    }
    return result.value;
  }
  if (Array.isArray(value)) {
    return value.map((item: unknown, index) =>
      interpolateValue(item, env, [...path, index], issues),
    );
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = interpolateValue(item, env, [...path, key], issues);
    }
    return out;
  }
  return value;
}
