/**
 * What the migration sources share: listing a directory, the files every
 * layout ignores, building SQL scripts, sorting and duplicate detection.
 */

import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { CutoverError } from '../../errors/index.js';
import { compareVersions } from '../compare-versions.js';
import type { Migration, MigrationLayout, SqlScript, SqlStatement } from '../migration.js';
import { splitStatements } from '../split-statements.js';
import { offsetToLineColumn } from '../text-position.js';

/**
 * Lists a migrations directory as the names {@link MigrationSource.detect}
 * takes: the names of its files, plus `sub/file` for the files of each
 * subdirectory (one level, for Prisma's `<timestamp>_<name>/migration.sql`).
 * Sorted by code unit. Symbolic links are followed.
 *
 * @throws CutoverError `MIGRATIONS_DIR_NOT_FOUND` (config) when `dir` does not exist or is not a directory.
 */
export async function listMigrationDir(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw dirNotFound(dir, error);
  }
  const names: string[] = [];
  for (const entry of entries) {
    let isDirectory = entry.isDirectory();
    if (entry.isSymbolicLink()) {
      isDirectory = await stat(join(dir, entry.name)).then(
        (s) => s.isDirectory(),
        () => false,
      );
    }
    if (!isDirectory) {
      names.push(entry.name);
      continue;
    }
    if (entry.name.startsWith('.')) continue;
    const inner = await readdir(join(dir, entry.name)).catch(() => [] as string[]);
    for (const name of inner) names.push(`${entry.name}/${name}`);
  }
  return names.sort();
}

function dirNotFound(dir: string, cause: unknown): CutoverError {
  const code = (cause as { code?: unknown } | undefined)?.code;
  const what = code === 'ENOTDIR' ? 'is not a directory' : 'does not exist';
  return new CutoverError(
    'MIGRATIONS_DIR_NOT_FOUND',
    'config',
    `The migrations directory ${dir} ${what}.`,
    {
      location: dir,
      hint: 'Create it (`cutover migrate create <name>` does), or point `migrations` in the config/plan file (or `--dir` of `cutover migrate`) at the right directory.',
      cause,
    },
  );
}

/**
 * Whether a directory entry is not a migration candidate in any layout:
 * dot files and names starting with `_`, `README*`, Prisma's
 * `migration_lock.toml`, declaration and test modules (`.d.ts`, `.test.ts`,
 * `.spec.ts`), and every file that is neither `.sql` nor `.ts` (e.g. Flyway
 * `.sql.conf` files, notes). Subdirectory entries (`sub/file`) are handled by
 * the Prisma source only.
 */
export function isIgnoredEntry(name: string): boolean {
  if (name.includes('/')) return true;
  if (name.startsWith('.') || name.startsWith('_')) return true;
  if (/^readme/i.test(name) || name === 'migration_lock.toml') return true;
  if (/\.(d|test|spec)\.ts$/.test(name)) return true;
  return !/\.(sql|ts)$/.test(name);
}

/** Top-level `.sql`/`.ts` files and `sub/migration.sql` entries: what a layout must account for. */
export function candidateEntries(fileNames: readonly string[]): string[] {
  return fileNames.filter((n) => !isIgnoredEntry(n) || /^[^/]+\/migration\.sql$/.test(n));
}

/**
 * Reads a UTF-8 text file; a missing file becomes `MIGRATION_FILE_UNREADABLE` (config).
 *
 * The read itself is synchronous: migration files are small, and one
 * `readFileSync` costs a few microseconds where `fs/promises.readFile` makes
 * four trips through libuv's thread pool (open, fstat, read, close) — about
 * 10× the time for 1,000 files, measured by `npm run bench:migrate`.
 */
export function readText(file: string): Promise<string> {
  try {
    return Promise.resolve(readFileSync(file, 'utf8'));
  } catch (error) {
    return Promise.reject(
      new CutoverError(
        'MIGRATION_FILE_UNREADABLE',
        'config',
        `Cannot read migration file ${file}.`,
        {
          location: file,
          hint: 'Check that the file exists and is readable.',
          cause: error,
        },
      ),
    );
  }
}

/**
 * Builds a SQL script from `text` (the whole file, or the section of it that
 * starts at `baseOffset`). Not transactional when a statement cannot run in a
 * transaction block, or when `optOut` (dbmate `transaction:false`) is given.
 * `statements`, when given, are the already split statements of that text.
 */
export function sqlScript(
  file: string,
  fileText: string,
  options: {
    text?: string;
    baseOffset?: number;
    optOut?: string;
    statements?: SqlStatement[];
  } = {},
): SqlScript {
  const text = options.text ?? fileText;
  const statements =
    options.statements ?? splitStatements(text, file, options.baseOffset ?? 0, fileText);
  const blocking = statements.find((s) => s.nonTransactional !== undefined);
  const script: SqlScript = { type: 'sql', file, fileText, statements, transactional: true };
  if (options.optOut !== undefined) {
    script.transactional = false;
    script.nonTransactionalReason = options.optOut;
  } else if (blocking?.nonTransactional !== undefined) {
    script.transactional = false;
    script.nonTransactionalReason = `${blocking.nonTransactional} cannot run inside a transaction block (line ${blocking.line})`;
  }
  return script;
}

/** Error for a file the layout cannot account for. */
export function unrecognizedFile(
  file: string,
  layout: MigrationLayout,
  expected: string,
): CutoverError {
  return new CutoverError(
    'MIGRATION_FILE_UNRECOGNIZED',
    'config',
    `${file} does not fit the ${layout} migration layout (expected ${expected}).`,
    {
      location: file,
      hint: 'Rename it to the layout’s pattern, or move it out of the migrations directory (names starting with `_` or `.` are ignored).',
      details: { file, layout, expected },
    },
  );
}

/**
 * Sorts versioned migrations by {@link compareVersions}, then repeatable ones
 * by name, and rejects two versioned migrations with one version.
 *
 * @throws CutoverError `MIGRATION_DUPLICATE_VERSION` (config) naming both files.
 */
export function sortAndCheck(migrations: Migration[], layout: MigrationLayout): Migration[] {
  const versioned = migrations.filter((m) => m.kind === 'versioned');
  const repeatable = migrations.filter((m) => m.kind === 'repeatable');
  versioned.sort(
    (a, b) =>
      compareVersions(a.version ?? '', b.version ?? '', layout) ||
      (a.files[0] ?? '').localeCompare(b.files[0] ?? ''),
  );
  for (let i = 1; i < versioned.length; i++) {
    const previous = versioned[i - 1];
    const current = versioned[i];
    if (previous === undefined || current === undefined) continue;
    if (compareVersions(previous.version ?? '', current.version ?? '', layout) === 0) {
      const a = previous.files[0] ?? previous.name;
      const b = current.files[0] ?? current.name;
      throw new CutoverError(
        'MIGRATION_DUPLICATE_VERSION',
        'config',
        `Two migrations have version ${current.version ?? ''}: ${a} and ${b}.`,
        {
          location: b,
          hint: 'Give one of them a new version (a later one if it is not applied anywhere yet).',
          details: { version: current.version, files: [a, b] },
        },
      );
    }
  }
  repeatable.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [...versioned, ...repeatable];
}

/**
 * `MIGRATION_PARSE_ERROR` (config) for a malformed migration file, located at
 * `file:line:column` of `offset` (a JS string offset in `text`).
 */
export function parseError(
  file: string,
  text: string,
  offset: number,
  what: string,
  hint: string,
): CutoverError {
  const { line, column } = offsetToLineColumn(text, offset);
  const location = `${file}:${line}:${column}`;
  return new CutoverError(
    'MIGRATION_PARSE_ERROR',
    'config',
    `Malformed migration ${location}: ${what}.`,
    {
      location,
      hint,
      details: { file, line, column },
    },
  );
}
