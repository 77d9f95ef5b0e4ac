import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { z } from 'zod';
import type { StepKindRegistry } from '../steps/step-kind-registry.js';
import { collectZodIssues, friendlyMessage } from './collect-zod-issues.js';
import type { Locator, PathSegment } from './document-locator.js';
import { isPlainObject } from './is-plain-object.js';
import type { ParsePlanOptions } from './parse-plan.js';
import { formatPath, planInvalid, type PlanIssue } from './plan-issue.js';
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
import { stableStringify } from './stable-stringify.js';

/**
 * Validates a plan value (after interpolation) against the top-level schema
 * and every step against its kind's schema, adds the problems to `issues`
 * (already holding the interpolation's) and throws them all together;
 * otherwise builds the {@link Plan} with its hash. An unset variable in
 * `database` is not an error here: it is recorded in `databaseUnresolved`.
 *
 * @throws CutoverError `PLAN_INVALID` (config).
 */
export function buildPlan(
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
        const path: PathSegment[] = ['phases', phaseIndex, 'steps', index];
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
  path: PathSegment[],
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
