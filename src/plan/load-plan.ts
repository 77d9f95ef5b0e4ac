import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CutoverError, describeError } from '../errors/index.js';
import type { StepKindRegistry } from '../steps/step-kind-registry.js';
import { parsePlanSource, parsePlanValue } from './parse-plan.js';
import type { Plan } from './plan-types.js';

/** The plan file used when none is named. */
export const DEFAULT_PLAN_FILE = 'cutover.yaml';

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);

/** Options of {@link loadPlan}. */
export interface LoadPlanOptions {
  /** The step kinds a plan may use. */
  registry: StepKindRegistry;
  /** Resolves relative `file` paths and shortens file names in messages. Default `process.cwd()`. */
  cwd?: string;
  /** Variables for `${NAME}` interpolation. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads a file as UTF-8 (inject for tests). Default `fs.readFile`. */
  readFile?: (path: string) => Promise<string>;
}

/**
 * Loads and validates a plan file: YAML (`.yaml`, `.yml`, `.json`) or a
 * TypeScript/JavaScript module (`.ts`, `.mts`, `.js`, …, loaded with tsx)
 * whose default export (or `plan` export) is the same object. Relative paths
 * in the plan resolve against the plan file's directory.
 *
 * @param file Plan file path. Default `cutover.yaml` in `cwd`.
 * @throws CutoverError `PLAN_NOT_FOUND` (config) when the file does not exist,
 *   `PLAN_INVALID` (config) listing every problem with file:line:column and path,
 *   `PLAN_MODULE_FAILED` (config) when a module plan cannot be imported.
 */
export async function loadPlan(file: string | undefined, options: LoadPlanOptions): Promise<Plan> {
  const cwd = options.cwd ?? process.cwd();
  const path = resolve(cwd, file ?? DEFAULT_PLAN_FILE);
  const shown = displayName(path, cwd);
  const dir = dirname(path);
  const common = {
    registry: options.registry,
    file: shown,
    filePath: path,
    dir,
    ...(options.env === undefined ? {} : { env: options.env }),
  };
  if (MODULE_EXTENSIONS.has(extname(path))) {
    const value = await importPlanModule(path, shown);
    return parsePlanValue(value, common);
  }
  const read = options.readFile ?? ((p: string) => readFile(p, 'utf8'));
  let source: string;
  try {
    source = await read(path);
  } catch (error) {
    throw notFound(shown, error);
  }
  return parsePlanSource(source, common);
}

async function importPlanModule(path: string, shown: string): Promise<unknown> {
  let module: Record<string, unknown>;
  try {
    const { tsImport } = await import('tsx/esm/api');
    module = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(path)) {
      throw notFound(shown, error);
    }
    throw new CutoverError(
      'PLAN_MODULE_FAILED',
      'config',
      `Cannot load plan module ${shown}: ${describeError(error).replace(/\.$/, '')}.`,
      { location: shown, hint: 'Fix the module so it imports without errors.', cause: error },
    );
  }
  // A module compiled as CommonJS arrives as { default: { default: plan } }.
  let value: unknown = module.default ?? module.plan;
  if (
    typeof value === 'object' &&
    value !== null &&
    'default' in value &&
    !('phases' in value) &&
    !('name' in value)
  ) {
    value = value.default;
  }
  if (value === undefined) {
    throw new CutoverError(
      'PLAN_MODULE_FAILED',
      'config',
      `Plan module ${shown} exports no plan.`,
      {
        location: shown,
        hint: 'Export the plan object as the default export (`export default { name: …, phases: […] }`).',
      },
    );
  }
  return typeof value === 'function' ? await (value as () => unknown)() : value;
}

function notFound(shown: string, cause: unknown): CutoverError {
  return new CutoverError('PLAN_NOT_FOUND', 'config', `Plan file ${shown} does not exist.`, {
    location: shown,
    hint: 'Name the plan file (`cutover run path/to/cutover.yaml`) or create cutover.yaml in this directory.',
    cause,
  });
}

function displayName(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * The plan's database URL for a command that has no `--database-url` and no
 * `DATABASE_URL`: `plan.database`, or undefined when the plan names none.
 *
 * @throws CutoverError `PLAN_ENV_MISSING` (config) when `database` uses
 *   environment variables that are not set.
 */
export function planDatabase(plan: Plan): string | undefined {
  const unresolved = plan.databaseUnresolved;
  if (unresolved === undefined) return plan.database;
  const names = unresolved.variables.join(', ');
  throw new CutoverError(
    'PLAN_ENV_MISSING',
    'config',
    `The plan's database uses the environment variable${unresolved.variables.length === 1 ? '' : 's'} ${names}, which ${unresolved.variables.length === 1 ? 'is' : 'are'} not set.`,
    {
      location: unresolved.location,
      hint: `Set ${names}, or give the database with --database-url or DATABASE_URL.`,
    },
  );
}
