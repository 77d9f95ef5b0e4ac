import { LineCounter, parseDocument } from 'yaml';
import type { StepKindRegistry } from '../steps/step-kind-registry.js';
import { buildPlan } from './build-plan.js';
import { documentLocator, NO_POSITIONS, type Position } from './document-locator.js';
import { interpolateDocument, interpolateValue } from './interpolate-plan.js';
import { planInvalid, type PlanIssue } from './plan-issue.js';
import type { Plan } from './plan-types.js';

export { formatIssue, formatPath, type PlanIssue } from './plan-issue.js';
export { stableStringify } from './stable-stringify.js';

/** Options of {@link parsePlanSource} and {@link parsePlanValue}. */
export interface ParsePlanOptions {
  /** The step kinds a plan may use. */
  registry: StepKindRegistry;
  /** File name shown in messages (e.g. `cutover.yaml`). */
  file?: string;
  /** Absolute path of the plan file (recorded in {@link Plan.file}). */
  filePath?: string;
  /** Directory relative paths resolve against. Default: `process.cwd()`. */
  dir?: string;
  /** Variables for `${NAME}` interpolation. Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Parses and validates a YAML (or JSON) plan. Collects **all** problems —
 * YAML syntax, missing `${ENV}` variables, schema errors of the top level and
 * of every step (checked by its kind's schema from `registry`), unknown keys —
 * each with file:line:column and JSON path, and throws them together.
 *
 * @throws CutoverError `PLAN_INVALID` (config); `details.issues` lists {@link PlanIssue}s.
 */
export function parsePlanSource(source: string, options: ParsePlanOptions): Plan {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: PlanIssue[] = [];
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  for (const error of doc.errors) {
    const message = error.message.split('\n')[0] ?? error.message;
    issues.push({ path: '', message: `YAML syntax: ${message}`, ...at(error.pos[0]) });
  }
  if (issues.length > 0) throw planInvalid(issues, options.file);
  const env = options.env ?? process.env;
  interpolateDocument(doc, env, [], doc.contents, issues, at);
  const value: unknown = doc.toJS({ maxAliasCount: 1000 });
  return buildPlan(value, documentLocator(doc, at), issues, options);
}

/**
 * Validates a plan given as a value (the default export of a `.ts` plan
 * module): same rules as {@link parsePlanSource}; `${ENV}` interpolation
 * applies to every string; positions are unknown, so issues carry paths only.
 *
 * @throws CutoverError `PLAN_INVALID` (config).
 */
export function parsePlanValue(value: unknown, options: ParsePlanOptions): Plan {
  const issues: PlanIssue[] = [];
  const env = options.env ?? process.env;
  const interpolated = interpolateValue(value, env, [], issues);
  return buildPlan(interpolated, NO_POSITIONS, issues, options);
}
