import { CutoverError } from '../errors/index.js';

/** One problem found in a plan. */
export interface PlanIssue {
  /** JSON path in the plan, e.g. `phases[1].steps[2].backfill.batchSize` (`` for the root). */
  path: string;
  /** What is wrong, e.g. `expected a positive integer`. */
  message: string;
  /** File name as shown to the user. */
  file?: string;
  /** 1-based line, when known (YAML plans). */
  line?: number;
  /** 1-based column, when known (YAML plans). */
  column?: number;
}

/** Formats a path like `phases[1].steps[2].backfill.batchSize`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      out += /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)
        ? `${out === '' ? '' : '.'}${key}`
        : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** Formats an issue as `file:line:column path: message`. */
export function formatIssue(issue: PlanIssue): string {
  const where =
    issue.file === undefined
      ? ''
      : issue.line === undefined
        ? `${issue.file} `
        : `${issue.file}:${issue.line}:${issue.column} `;
  return `${where}${issue.path === '' ? '' : `${issue.path}: `}${issue.message}`;
}

/**
 * CutoverError `PLAN_INVALID` (config) listing `issues` sorted by position,
 * each prefixed with `file` (when given); `details.issues` holds them.
 */
export function planInvalid(issues: PlanIssue[], file: string | undefined): CutoverError {
  const sorted = [...issues]
    .map((issue) => (file === undefined ? issue : { ...issue, file }))
    .sort(
      (a, b) =>
        (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER) ||
        (a.column ?? 0) - (b.column ?? 0),
    );
  const name = file ?? 'plan';
  const lines = sorted.map((issue) => `  ${formatIssue(issue)}`);
  return new CutoverError(
    'PLAN_INVALID',
    'config',
    `Plan ${name} is invalid (${sorted.length} problem${sorted.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    {
      location: name,
      hint: 'Fix the problems listed; `cutover plan schema` prints a JSON Schema for editor completion.',
      details: { issues: sorted },
    },
  );
}
