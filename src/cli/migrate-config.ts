import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import ms from 'ms';
import { isMap, isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import { MIGRATION_LAYOUTS } from '../migrate/index.js';
import type { MigrationLayout } from '../migrate/index.js';

/** Default config file name, looked up in the working directory. */
export const CONFIG_FILE = 'cutover.yaml';

/**
 * A duration: a number of milliseconds, or a string `ms` understands
 * (`500ms`, `2s`, `1m`; a bare number string is milliseconds).
 *
 * @returns whole milliseconds, or undefined when `value` is not a valid non-negative duration.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number')
    return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const parsed = ms(trimmed as ms.StringValue) as number | undefined;
  return typeof parsed === 'number' && Number.isFinite(parsed) && parsed >= 0
    ? Math.round(parsed)
    : undefined;
}

const duration = z.union([z.number(), z.string()]).refine((v) => parseDuration(v) !== undefined, {
  message: 'expected a duration such as 2s, 500ms or 1m',
});

const migrationsObject = z.strictObject({
  dir: z.string().min(1).optional(),
  layout: z.enum(MIGRATION_LAYOUTS as [MigrationLayout, ...MigrationLayout[]]).optional(),
  lockTimeout: duration.optional(),
  statementTimeout: duration.optional(),
  lockRetries: z.number().int().min(0).optional(),
  lockWait: duration.optional(),
  allowOutOfOrder: z.boolean().optional(),
});

/**
 * The keys of the config file the migrate commands read. The file is the
 * plan file too: every other top-level key (`name`, `phases`, `guards`, …)
 * belongs to the plan and is ignored here.
 */
const migrateConfigSchema = z.looseObject({
  database: z.string().optional(),
  migrations: z.union([z.string().min(1), migrationsObject]).optional(),
});

/** The migrate settings of the config file, parsed. Durations in ms; `dir` absolute. */
export interface MigrateConfig {
  /** The config file read, when there was one. */
  file?: string;
  /** `database` as written (maybe with `${VAR}`); resolve it with {@link resolveConfiguredDatabase}. */
  database?: string;
  /** Migrations directory (absolute), when configured. */
  dir?: string;
  layout?: MigrationLayout;
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  lockRetries?: number;
  lockWaitMs?: number;
  allowOutOfOrder?: boolean;
}

/**
 * Reads the `database` and `migrations` keys of `cutover.yaml` in `cwd`, or of
 * `configFile` when given (which must exist). No file → `{}`. `migrations` is
 * a directory path or `{ dir, layout, lockTimeout, statementTimeout,
 * lockRetries, lockWait, allowOutOfOrder }` (unknown keys there are
 * rejected); paths resolve against the file's directory; `${VAR}` in them is
 * replaced from `env`.
 *
 * @throws CutoverError `CONFIG_NOT_FOUND` (config) for a missing `--config`
 *   file; `CONFIG_INVALID` (config) listing every problem as
 *   `file:line:column: path: message`; `CONFIG_ENV_MISSING` (config) for an
 *   unset `${VAR}`.
 */
export async function loadMigrateConfig(options: {
  cwd: string;
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
}): Promise<MigrateConfig> {
  const env = options.env ?? process.env;
  const file = resolve(options.cwd, options.configFile ?? CONFIG_FILE);
  if (!existsSync(file)) {
    if (options.configFile === undefined) return {};
    throw new CutoverError(
      'CONFIG_NOT_FOUND',
      'config',
      `The config file ${options.configFile} does not exist.`,
      {
        location: options.configFile,
        hint: 'Check the --config path.',
      },
    );
  }
  const text = await readFile(file, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    // linePos is only filled in with prettyErrors; compute it from the offset.
    const pos =
      first?.linePos?.[0] ?? (first === undefined ? undefined : lineCounter.linePos(first.pos[0]));
    throw new CutoverError(
      'CONFIG_INVALID',
      'config',
      `${file} is not valid YAML: ${first?.message.split('\n')[0] ?? 'parse error'}.`,
      {
        location: pos === undefined ? file : `${file}:${pos.line}:${pos.col}`,
        hint: 'Fix the YAML syntax.',
      },
    );
  }
  const raw: unknown = doc.toJS();
  const parsed = migrateConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path.map(String);
      return `${locate(doc, lineCounter, file, path)}: ${path.join('.') || '(root)'}: ${issue.message}`;
    });
    throw new CutoverError(
      'CONFIG_INVALID',
      'config',
      `Invalid migrate settings in ${file}: ${problems.join('; ')}.`,
      {
        location: problems[0]?.split(': ')[0] ?? file,
        hint: 'migrations is a directory path or { dir, layout, lockTimeout, statementTimeout, lockRetries, lockWait, allowOutOfOrder }; database is a postgres:// URL.',
        details: { problems },
      },
    );
  }
  const base = dirname(file);
  const value = parsed.data;
  const config: MigrateConfig = { file };
  if (value.database !== undefined) config.database = value.database;
  const m = value.migrations;
  if (typeof m === 'string') {
    config.dir = resolve(base, interpolate(m, env, doc, lineCounter, file, ['migrations']));
  } else if (m !== undefined) {
    if (m.dir !== undefined)
      config.dir = resolve(
        base,
        interpolate(m.dir, env, doc, lineCounter, file, ['migrations', 'dir']),
      );
    if (m.layout !== undefined) config.layout = m.layout;
    if (m.lockTimeout !== undefined) config.lockTimeoutMs = parseDuration(m.lockTimeout);
    if (m.statementTimeout !== undefined)
      config.statementTimeoutMs = parseDuration(m.statementTimeout);
    if (m.lockRetries !== undefined) config.lockRetries = m.lockRetries;
    if (m.lockWait !== undefined) config.lockWaitMs = parseDuration(m.lockWait);
    if (m.allowOutOfOrder !== undefined) config.allowOutOfOrder = m.allowOutOfOrder;
  }
  return config;
}

/**
 * The configured database URL with `${VAR}` replaced from `env`; undefined
 * when none is configured. Call it only when neither `--database-url` nor
 * `DATABASE_URL` is set, so an unused `${VAR}` is never an error.
 *
 * @throws CutoverError `CONFIG_ENV_MISSING` (config).
 */
export async function resolveConfiguredDatabase(
  config: MigrateConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (config.database === undefined || config.file === undefined) return undefined;
  const text = await readFile(config.file, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return interpolate(config.database, env, doc, lineCounter, config.file, ['database']);
}

function interpolate(
  value: string,
  env: NodeJS.ProcessEnv,
  doc: Document,
  lineCounter: LineCounter,
  file: string,
  path: string[],
): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
    const found = env[name];
    if (found === undefined || found === '') {
      throw new CutoverError(
        'CONFIG_ENV_MISSING',
        'config',
        `${path.join('.')} uses \${${name}}, but the environment variable ${name} is not set.`,
        {
          location: locate(doc, lineCounter, file, path),
          hint: `Set ${name}, or give the value with a command-line flag.`,
        },
      );
    }
    return found;
  });
}

/** `file:line:column` of the node at `path` (or of its nearest existing parent). */
function locate(
  doc: Document,
  lineCounter: LineCounter,
  file: string,
  path: readonly string[],
): string {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range !== undefined && node.range !== null) {
      let offset = node.range[0];
      // For a key of a map, point at the key rather than its value when the value is missing.
      if (n === path.length - 1 && isMap(node)) {
        const pair = node.items.find(
          (p) => isNode(p.key) && String((p.key as { value?: unknown }).value) === path[n],
        );
        if (pair !== undefined && isNode(pair.key) && pair.key.range) offset = pair.key.range[0];
      }
      const pos = lineCounter.linePos(offset);
      return `${file}:${pos.line}:${pos.col}`;
    }
  }
  return file;
}
