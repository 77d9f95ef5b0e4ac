import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { tsImport } from 'tsx/esm/api';

import { CutoverError } from '../../errors/index.js';
import { checksumOf } from '../checksum.js';
import type {
  Migration,
  MigrationClient,
  MigrationSource,
  TypeScriptScript,
} from '../migration.js';
import {
  candidateEntries,
  listMigrationDir,
  readText,
  sortAndCheck,
  unrecognizedFile,
} from './source-support.js';

const TS_FILE = /^(\d+)_([^/]+)\.ts$/;

/** The TypeScript file pattern, in words. */
export const TYPESCRIPT_PATTERN = '`NNNN_name.ts` exporting `up(db)` and optionally `down(db)`';

/** Whether a file name is a TypeScript migration module. */
export function isTypeScriptFile(name: string): boolean {
  return TS_FILE.test(name) && !/\.(d|test|spec)\.ts$/.test(name);
}

/** A migration function: receives the migration's client (inside its transaction unless `transaction = false`). */
export type MigrationFunction = (db: MigrationClient) => unknown;

/** A validated TypeScript migration module. */
export interface TypeScriptMigrationModule {
  /** The `up` export. */
  up: MigrationFunction;
  /** The `down` export, when there is one. */
  down?: MigrationFunction;
  /** The `transaction` export; default true. */
  transaction: boolean;
}

/**
 * Imports a TypeScript (or JavaScript) migration module with tsx's
 * `tsImport` (so `.ts` works from compiled JavaScript, without a loader
 * flag) and validates its exports: `up` must be a function, `down` a function
 * when present, `transaction` a boolean when present. A module whose only
 * export is a default object with these members is accepted too. Each call
 * evaluates the module afresh (tsx gives every `tsImport` its own namespace).
 *
 * @throws CutoverError `MIGRATION_PARSE_ERROR` (config) when the module does
 *   not compile or load (location `file:line:column` when the compiler names
 *   one) or its exports are invalid (location `file`).
 */
export async function importTypeScriptMigration(file: string): Promise<TypeScriptMigrationModule> {
  let loaded: unknown;
  try {
    loaded = await tsImport(pathToFileURL(file).href, import.meta.url);
  } catch (error) {
    const position = compilerPosition(error);
    const location = position === undefined ? file : `${file}:${position.line}:${position.column}`;
    const reason =
      position?.text ?? (error instanceof Error ? firstLine(error.message) : String(error));
    throw new CutoverError(
      'MIGRATION_PARSE_ERROR',
      'config',
      `Cannot load TypeScript migration ${location}: ${reason}`,
      {
        location,
        hint: 'Fix the module so that it compiles and imports without error.',
        cause: error,
      },
    );
  }
  const ns = (loaded ?? {}) as Record<string, unknown>;
  const fallback = ns.default;
  const source =
    typeof ns.up !== 'function' &&
    fallback !== null &&
    typeof fallback === 'object' &&
    'up' in fallback
      ? (fallback as Record<string, unknown>)
      : ns;
  const bad = (what: string): CutoverError =>
    new CutoverError('MIGRATION_PARSE_ERROR', 'config', `TypeScript migration ${file} ${what}.`, {
      location: file,
      hint: 'Export `async function up(db)`, optionally `async function down(db)`, and optionally `const transaction = false`.',
    });
  const { up, down, transaction } = source;
  if (typeof up !== 'function')
    throw bad(
      up === undefined
        ? 'does not export a function `up(db)`'
        : 'exports `up`, but it is not a function',
    );
  if (down !== undefined && typeof down !== 'function')
    throw bad('exports `down`, but it is not a function');
  if (transaction !== undefined && typeof transaction !== 'boolean')
    throw bad('exports `transaction`, but it is not a boolean (true or false)');
  const module: TypeScriptMigrationModule = {
    up: up as MigrationFunction,
    transaction: transaction !== false,
  };
  if (typeof down === 'function') module.down = down as MigrationFunction;
  return module;
}

function firstLine(message: string): string {
  return (
    message
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? message
  );
}

/**
 * The compiler's position of the first error, when it names one: esbuild's
 * `errors[0].location` (1-based line, 0-based column), or its message
 * `Transform failed …\n<file>:<line>:<column>: ERROR: <text>` (tsx's form).
 */
function compilerPosition(
  error: unknown,
): { line: number; column: number; text?: string } | undefined {
  const errors = (error as { errors?: unknown } | undefined)?.errors;
  if (Array.isArray(errors)) {
    const first = errors[0] as
      { text?: unknown; location?: { line?: unknown; column?: unknown } } | undefined;
    const location = first?.location;
    if (typeof location?.line === 'number' && typeof location.column === 'number') {
      return {
        line: location.line,
        column: location.column + 1,
        ...(typeof first?.text === 'string' ? { text: first.text } : {}),
      };
    }
  }
  const message = error instanceof Error ? error.message : '';
  const match = /:(\d+):(\d+): ERROR: (.*)/.exec(message);
  if (match === null) return undefined;
  return { line: Number(match[1]), column: Number(match[2]) + 1, text: match[3] ?? '' };
}

/**
 * TypeScript migrations: `<version>_<name>.ts` modules (version: digits,
 * compared numerically) exporting `async function up(db)`, optionally
 * `async function down(db)` and `export const transaction = false` (run
 * outside a transaction). `db` is a {@link MigrationClient}. Every module is
 * imported once on load to validate its exports (see
 * {@link importTypeScriptMigration}; the executor imports it again to run it).
 * The checksum is the module's source text.
 */
export class TypeScriptSource implements MigrationSource {
  readonly layout = 'typescript' as const;

  detect(fileNames: readonly string[]): boolean {
    return fileNames.some(isTypeScriptFile);
  }

  async load(dir: string): Promise<Migration[]> {
    const migrations: Migration[] = [];
    for (const entry of candidateEntries(await listMigrationDir(dir))) {
      if (entry.includes('/')) continue;
      const file = join(dir, entry);
      const match = TS_FILE.exec(entry);
      if (match === null) throw unrecognizedFile(file, 'typescript', TYPESCRIPT_PATTERN);
      const text = await readText(file);
      const module = await importTypeScriptMigration(file);
      const script = (exportName: 'up' | 'down'): TypeScriptScript => {
        const s: TypeScriptScript = {
          type: 'typescript',
          file,
          exportName,
          transactional: module.transaction,
        };
        if (!module.transaction)
          s.nonTransactionalReason = 'the module exports `transaction = false`';
        return s;
      };
      const migration: Migration = {
        version: match[1],
        name: match[2] ?? '',
        layout: 'typescript',
        kind: 'versioned',
        checksum: checksumOf(text),
        up: script('up'),
        files: [file],
      };
      if (module.down !== undefined) migration.down = script('down');
      migrations.push(migration);
    }
    return sortAndCheck(migrations, 'typescript');
  }
}
