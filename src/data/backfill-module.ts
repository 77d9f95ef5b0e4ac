import { access } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { CutoverError, describeError } from '../errors/index.js';
import type { BackfillModule } from './backfill.js';

const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', {
  message: 'expected a function',
});
const name = z.string().min(1);

/** Schema of a backfill module's export (unknown keys are rejected). */
export const backfillModuleSchema = z.strictObject({
  table: name,
  key: z.union([name, z.array(name).min(1)]),
  columns: z.array(name).min(1).optional(),
  where: name.optional(),
  batchSize: z.number().int().positive().optional(),
  writes: z.array(name).min(1).optional(),
  transform: fn,
  revert: fn.optional(),
});

/** Formats zod issues as `path: message` lines. */
function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return `${path === '' ? '(module export)' : path}: ${issue.message}`;
  });
}

/**
 * Validates a value as a {@link BackfillModule}, collecting every problem.
 *
 * @throws CutoverError `BACKFILL_MODULE_INVALID` (config) naming each bad field.
 */
export function parseBackfillModule(value: unknown, location: string): BackfillModule {
  const parsed = backfillModuleSchema.safeParse(value);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error);
    throw new CutoverError(
      'BACKFILL_MODULE_INVALID',
      'config',
      `The backfill module ${location} is invalid: ${problems.join('; ')}.`,
      {
        location,
        hint: 'Export (default, or as `backfill`) { table, key, transform(rows, { client }), revert?, where?, columns?, batchSize?, writes? }.',
        details: { problems },
      },
    );
  }
  return value as BackfillModule;
}

/**
 * Loads a backfill module from a file: TypeScript (`.ts`, `.mts`, `.cts`,
 * loaded with tsx's `tsImport`, so no build step) or JavaScript. The backfill
 * is the default export, or the named export `backfill`.
 *
 * @throws CutoverError `BACKFILL_MODULE_NOT_FOUND` (config) when the file is
 *   missing, `BACKFILL_MODULE_LOAD_FAILED` (config) when importing it throws,
 *   `BACKFILL_MODULE_INVALID` (config) when the export is not a backfill.
 */
export async function loadBackfillModule(file: string): Promise<BackfillModule> {
  const path = resolve(file);
  try {
    await access(path);
  } catch {
    throw new CutoverError(
      'BACKFILL_MODULE_NOT_FOUND',
      'config',
      `Backfill module ${path} does not exist.`,
      {
        location: path,
        hint: 'Check the module path (relative paths resolve against the plan file).',
      },
    );
  }
  let loaded: Record<string, unknown>;
  try {
    if (['.ts', '.mts', '.cts', '.tsx'].includes(extname(path))) {
      const { tsImport } = await import('tsx/esm/api');
      loaded = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<
        string,
        unknown
      >;
    } else {
      loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    }
  } catch (error) {
    throw new CutoverError(
      'BACKFILL_MODULE_LOAD_FAILED',
      'config',
      `Loading backfill module ${path} failed: ${describeError(error).replace(/\.$/, '')}.`,
      {
        location: path,
        hint: 'Fix the error in the module (run it with `npx tsx` to see it).',
        cause: error,
      },
    );
  }
  // ESM: the namespace's `default` or `backfill`. A module compiled to CommonJS nests
  // them once more under `default` (module.exports).
  let candidate: unknown = loaded;
  for (let depth = 0; depth < 3; depth++) {
    if (candidate === null || typeof candidate !== 'object') break;
    if ('transform' in candidate || 'table' in candidate) break;
    const record = candidate as Record<string, unknown>;
    candidate = record.backfill ?? record.default;
  }
  if (candidate === undefined) {
    throw new CutoverError(
      'BACKFILL_MODULE_INVALID',
      'config',
      `Backfill module ${path} has no default export and no export named "backfill".`,
      { location: path, hint: 'Add `export default { table, key, transform }`.' },
    );
  }
  return parseBackfillModule(candidate, path);
}
