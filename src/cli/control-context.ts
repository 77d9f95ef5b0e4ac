import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import type pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { connect } from '../db/index.js';
import { CutoverError } from '../errors/index.js';
import { DEFAULT_PLAN_FILE, interpolate, loadPlan } from '../plan/index.js';
import { ensureControlSchema } from '../store/control-schema.js';
import { ControlStore } from '../store/control-store.js';
import { builtinStepKinds, createStepKindRegistry, type StepKindRegistry } from '../steps/index.js';
import type { CommandContext } from './command-context.js';

/** The step-kind registry the CLI uses: every built-in kind. */
export function cliRegistry(): StepKindRegistry {
  return createStepKindRegistry(builtinStepKinds());
}

/** True when neither `--database-url` nor `DATABASE_URL` gives the database (the plan's is used). */
export function usesPlanDatabase(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return (
    (flag === undefined || flag === '') &&
    (env.DATABASE_URL === undefined || env.DATABASE_URL === '')
  );
}

/** An open connection to the target database with cutover's control schema ready. */
export interface ControlHandle {
  url: string;
  pool: pg.Pool;
  store: ControlStore;
}

/**
 * Connects to the database (`--database-url`, `DATABASE_URL`, `configured`,
 * else the embedded PostgreSQL), makes sure the control schema is migrated,
 * and closes the pool when the command ends.
 */
export async function openControl(
  ctx: CommandContext,
  options: { flag?: string | undefined; configured?: string | undefined },
): Promise<ControlHandle> {
  const url = await ctx.databaseUrl({ flag: options.flag, configured: options.configured });
  const pool = await connect(url, { max: 8 });
  ctx.onCleanup(() => pool.end());
  await ensureControlSchema(pool);
  return { url, pool, store: new ControlStore(pool) };
}

/**
 * The `database` of the plan file, for commands that take a run id rather
 * than a plan (`status`, `resume`, …): `file` when given, else `./cutover.yaml`
 * when it exists. `${ENV}` references are interpolated.
 *
 * @throws CutoverError `PLAN_NOT_FOUND` when `file` is given and missing;
 *   `PLAN_INVALID` when its `database` names an unset variable.
 */
export async function configuredDatabase(
  cwd: string,
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const path = resolve(cwd, file ?? DEFAULT_PLAN_FILE);
  if (file === undefined && !existsSync(path)) return undefined;
  if (['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'].includes(extname(path))) {
    return (await loadPlan(path, { registry: cliRegistry(), cwd, env })).database;
  }
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    throw new CutoverError(
      'PLAN_NOT_FOUND',
      'config',
      `Plan file ${file ?? path} does not exist.`,
      {
        location: file ?? path,
        hint: 'Name an existing plan file with --file.',
        cause: error,
      },
    );
  }
  let value: unknown;
  try {
    value = parseYaml(source);
  } catch {
    return undefined; // the full validation reports it when the plan is used
  }
  const database =
    typeof value === 'object' && value !== null
      ? (value as { database?: unknown }).database
      : undefined;
  if (typeof database !== 'string') return undefined;
  const result = interpolate(database, env);
  if (result.missing.length > 0) {
    throw new CutoverError(
      'PLAN_INVALID',
      'config',
      `The database of ${file ?? DEFAULT_PLAN_FILE} uses environment variable ${result.missing[0]!.name}, which is not set.`,
      {
        location: `${file ?? DEFAULT_PLAN_FILE}:database`,
        hint: `Set ${result.missing[0]!.name}, or pass --database-url.`,
      },
    );
  }
  return result.value.trim() === '' ? undefined : result.value.trim();
}
