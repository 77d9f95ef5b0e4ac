import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parse as parseYamlValue,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';
import type { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import type { StepKindRegistry } from '../steps/step-kind-registry.js';
import { interpolate } from './interpolate.js';
import { RUN_EVENT_NAMES, planTopLevelSchema } from './plan-schema.js';
import type {
  Plan,
  PlanGuard,
  PlanMigrations,
  PlanPhase,
  PlanStep,
  PlanWebhook,
  RunEventName,
} from './plan-types.js';

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

type Segment = string | number;

interface Position {
  line: number;
  column: number;
}

/** Finds source positions for JSON paths. */
interface Locator {
  /** Position of the value at `path` (or of the nearest ancestor that exists). */
  value(path: readonly Segment[]): Position | undefined;
  /** Position of the key at `path` (for unknown keys), else of the value. */
  key(path: readonly Segment[]): Position | undefined;
}

const NO_POSITIONS: Locator = { value: () => undefined, key: () => undefined };

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

// ---------------------------------------------------------------------------
// Interpolation

function interpolateDocument(
  doc: Document,
  env: Readonly<Record<string, string | undefined>>,
  path: Segment[],
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

function interpolateValue(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path: Segment[],
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

// ---------------------------------------------------------------------------
// Positions

function documentLocator(doc: Document, at: (offset: number) => Position): Locator {
  const walk = (
    path: readonly Segment[],
  ): { node: Node | undefined; keyNode: Node | undefined; complete: boolean } => {
    let current: unknown = doc.contents;
    let keyNode: Node | undefined;
    let last: Node | undefined = doc.contents ?? undefined;
    for (const segment of path) {
      if (isAlias(current)) current = current.resolve(doc);
      if (isMap(current)) {
        const pair = current.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (pair === undefined) return { node: last, keyNode: undefined, complete: false };
        keyNode = pair.key as Node;
        current = pair.value;
        last = (pair.value as Node | null) ?? keyNode;
      } else if (isSeq(current) && typeof segment === 'number') {
        const item: unknown = current.items[segment];
        if (item === undefined || item === null) {
          return { node: last, keyNode: undefined, complete: false };
        }
        keyNode = undefined;
        current = item;
        last = item as Node;
      } else {
        return { node: last, keyNode: undefined, complete: false };
      }
    }
    return { node: last, keyNode, complete: true };
  };
  const position = (node: Node | undefined): Position | undefined =>
    node?.range ? at(node.range[0]) : undefined;
  return {
    value: (path) => position(walk(path).node),
    key(path) {
      const found = walk(path);
      return position(found.keyNode ?? found.node);
    },
  };
}

// ---------------------------------------------------------------------------
// Validation

function buildPlan(
  value: unknown,
  locator: Locator,
  issues: PlanIssue[],
  options: ParsePlanOptions,
): Plan {
  // `database` may name a variable that is not set when the command gets the
  // URL elsewhere (--database-url, DATABASE_URL): kept aside, not an error here.
  const databaseIssues = issues.filter((issue) => issue.path === 'database');
  issues.splice(0, issues.length, ...issues.filter((issue) => issue.path !== 'database'));
  // A value whose variable is missing is reported once, not again by the schema.
  const unresolved = new Set([...issues, ...databaseIssues].map((issue) => issue.path));
  const schemaIssues: PlanIssue[] = [];
  const top = planTopLevelSchema.safeParse(value, { error: friendlyMessage });
  if (!top.success) collectZodIssues(top.error.issues, [], value, locator, schemaIssues);

  // Steps are validated one by one, even when the top level has errors, so
  // every problem is reported at once.
  const registry = options.registry;
  const phasesValue = isPlainObject(value) ? value.phases : undefined;
  const steps: PlanStep[] = [];
  const phaseNames = new Map<string, number>();
  if (Array.isArray(phasesValue)) {
    phasesValue.forEach((phase: unknown, phaseIndex) => {
      if (!isPlainObject(phase)) return;
      const phaseName = typeof phase.name === 'string' ? phase.name : `#${phaseIndex}`;
      const firstIndex = phaseNames.get(phaseName);
      if (firstIndex !== undefined) {
        const path = ['phases', phaseIndex, 'name'];
        schemaIssues.push({
          path: formatPath(path),
          message: `duplicate phase name "${phaseName}" (also phases[${firstIndex}].name)`,
          ...locator.value(path),
        });
      } else {
        phaseNames.set(phaseName, phaseIndex);
      }
      if (!Array.isArray(phase.steps)) return;
      phase.steps.forEach((step: unknown, index) => {
        const path: Segment[] = ['phases', phaseIndex, 'steps', index];
        const checked = checkStep(step, path, registry, locator, schemaIssues);
        if (checked === undefined) return;
        const where = locator.value(path);
        steps.push({
          id: `${phaseName}.${index}`,
          phase: phaseName,
          index,
          position: steps.length,
          kind: checked.kind,
          spec: checked.spec,
          ...(where && options.file !== undefined
            ? { location: `${options.file}:${where.line}:${where.column}` }
            : {}),
        });
      });
    });
  }

  issues.push(...schemaIssues.filter((issue) => !unresolved.has(issue.path)));
  if (issues.length > 0 || !top.success) throw planInvalid(issues, options.file);
  const parsed = top.data;
  const dir = options.dir ?? process.cwd();
  const phases: PlanPhase[] = parsed.phases.map((phase) => ({
    name: phase.name,
    irreversible: phase.irreversible,
    steps: steps.filter((step) => step.phase === phase.name),
  }));
  const webhooks: PlanWebhook[] = parsed.webhooks.map((hook) =>
    typeof hook === 'string'
      ? { url: hook, events: [...RUN_EVENT_NAMES] }
      : { url: hook.url, events: [...new Set<RunEventName>(hook.events)] },
  );
  const guards: PlanGuard[] = parsed.guards.map((guard) => ({
    name: guard.name,
    metric: guard.metric,
    ...(guard.cohort ? { cohort: guard.cohort } : {}),
    threshold: guard.threshold.trim(),
    forMs: guard.for,
    severity: guard.severity,
  }));
  const migrations = normalizeMigrations(parsed.migrations, dir);
  const database =
    databaseIssues.length > 0 || parsed.database === undefined || parsed.database.trim() === ''
      ? undefined
      : parsed.database.trim();
  const firstDatabaseIssue = databaseIssues[0];
  const databaseUnresolved =
    firstDatabaseIssue === undefined
      ? undefined
      : {
          variables: databaseIssues.map((issue) =>
            issue.message.replace(/^environment variable (\S+) is not set$/, '$1'),
          ),
          location:
            options.file === undefined
              ? 'database'
              : firstDatabaseIssue.line === undefined
                ? `${options.file}:database`
                : `${options.file}:${firstDatabaseIssue.line}:${firstDatabaseIssue.column}`,
        };
  const hashed = {
    name: parsed.name,
    environment: parsed.environment,
    onFailure: parsed.onFailure,
    migrations: migrations ?? null,
    webhooks,
    guards,
    phases: phases.map((phase) => ({
      name: phase.name,
      irreversible: phase.irreversible,
      steps: phase.steps.map((step) => ({ [step.kind]: step.spec })),
    })),
  };
  return {
    name: parsed.name,
    ...(database === undefined ? {} : { database }),
    ...(databaseUnresolved === undefined ? {} : { databaseUnresolved }),
    ...(migrations === undefined ? {} : { migrations }),
    environment: parsed.environment,
    onFailure: parsed.onFailure,
    webhooks,
    guards,
    phases,
    steps,
    ...(options.filePath === undefined ? {} : { file: options.filePath }),
    dir,
    hash: createHash('sha256').update(stableStringify(hashed)).digest('hex'),
  };
}

function checkStep(
  step: unknown,
  path: Segment[],
  registry: StepKindRegistry,
  locator: Locator,
  issues: PlanIssue[],
): { kind: string; spec: unknown } | undefined {
  const example =
    'expected a step: a mapping with one key naming its kind, e.g. `migrate: { to: "0002" }`';
  if (!isPlainObject(step)) {
    issues.push({ path: formatPath(path), message: example, ...locator.value(path) });
    return undefined;
  }
  const keys = Object.keys(step);
  if (keys.length !== 1) {
    issues.push({
      path: formatPath(path),
      message:
        keys.length === 0
          ? example
          : `a step has exactly one kind, found ${keys.length} keys (${keys.join(', ')}); put each in its own list item`,
      ...locator.value(path),
    });
    return undefined;
  }
  const kindName = keys[0]!;
  const kind = registry.get(kindName);
  const kindPath = [...path, kindName];
  if (kind === undefined) {
    issues.push({
      path: formatPath(kindPath),
      message: `unknown step kind "${kindName}"; known kinds: ${registry.names().join(', ')}`,
      ...locator.key(kindPath),
    });
    return undefined;
  }
  // `- approve:` (no body) means `approve: {}`.
  const body = step[kindName] ?? {};
  const result = kind.schema.safeParse(body, { error: friendlyMessage });
  if (!result.success) {
    collectZodIssues(result.error.issues, kindPath, body, locator, issues);
    return undefined;
  }
  return { kind: kindName, spec: body };
}

function normalizeMigrations(
  raw: z.output<typeof planTopLevelSchema>['migrations'],
  dir: string,
): PlanMigrations | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') return { dir: resolve(dir, raw) };
  return {
    dir: resolve(dir, raw.dir),
    ...(raw.layout === undefined ? {} : { layout: raw.layout }),
    ...(raw.lockTimeout === undefined ? {} : { lockTimeoutMs: raw.lockTimeout }),
    ...(raw.statementTimeout === undefined ? {} : { statementTimeoutMs: raw.statementTimeout }),
    ...(raw.lockRetries === undefined ? {} : { lockRetries: raw.lockRetries }),
    ...(raw.lockWait === undefined ? {} : { lockWaitMs: raw.lockWait }),
    ...(raw.allowOutOfOrder === undefined ? {} : { allowOutOfOrder: raw.allowOutOfOrder }),
  };
}

// ---------------------------------------------------------------------------
// Zod issues → plan issues

type ZodIssue = z.core.$ZodIssue;

/** `root` is the value at `prefix` (issue paths are relative to it). */
function collectZodIssues(
  zodIssues: readonly ZodIssue[],
  prefix: readonly Segment[],
  root: unknown,
  locator: Locator,
  out: PlanIssue[],
): void {
  for (const issue of zodIssues) {
    const path = [...prefix, ...(issue.path as Segment[])];
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
        collectZodIssues(branch, path, valueAt(root, issue.path as Segment[]), locator, out);
        continue;
      }
    }
    const missing = valueAt(root, issue.path as Segment[]) === undefined;
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

function valueAt(root: unknown, path: readonly Segment[]): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isPlainObject(current)) current = current[String(segment)];
    else return undefined;
  }
  return current;
}

/** Error map giving short messages in the plan's terms (schema-level messages take precedence). */
function friendlyMessage(issue: z.core.$ZodRawIssue): string | undefined {
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

// ---------------------------------------------------------------------------

function planInvalid(issues: PlanIssue[], file: string | undefined): CutoverError {
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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with object keys sorted, for hashing. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${stableStringify(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
