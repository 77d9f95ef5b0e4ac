import { CutoverError } from '../errors/index.js';
import type { Migration, MigrationLayout, MigrationSource } from './migration.js';
import { loadSqlParser } from './split-statements.js';
import { FLYWAY_PATTERN, FlywaySource } from './sources/flyway-source.js';
import { GOLANG_MIGRATE_PATTERN, GolangMigrateSource } from './sources/golang-migrate-source.js';
import { NATIVE_PATTERN, NativeMigrationSource } from './sources/native-source.js';
import { PRISMA_PATTERN, PrismaSource } from './sources/prisma-source.js';
import { candidateEntries, listMigrationDir } from './sources/source-support.js';
import { TYPESCRIPT_PATTERN, TypeScriptSource } from './sources/typescript-source.js';

/** Every layout cutover reads, in the order detection reports them. */
export const MIGRATION_LAYOUTS: readonly MigrationLayout[] = [
  'native',
  'golang-migrate',
  'flyway',
  'prisma',
  'typescript',
];

/** Each layout's file pattern, in words (used in messages and the README). */
export const LAYOUT_PATTERNS: Readonly<Record<MigrationLayout, string>> = {
  native: NATIVE_PATTERN,
  'golang-migrate': GOLANG_MIGRATE_PATTERN,
  flyway: FLYWAY_PATTERN,
  prisma: PRISMA_PATTERN,
  typescript: TYPESCRIPT_PATTERN,
};

/** A new {@link MigrationSource} for `layout`. */
export function migrationSource(layout: MigrationLayout): MigrationSource {
  switch (layout) {
    case 'native':
      return new NativeMigrationSource();
    case 'golang-migrate':
      return new GolangMigrateSource();
    case 'flyway':
      return new FlywaySource();
    case 'prisma':
      return new PrismaSource();
    case 'typescript':
      return new TypeScriptSource();
  }
}

/**
 * Every layout whose migration files appear in `fileNames` (a directory
 * listing as `listMigrationDir` gives it: file names, plus `sub/file` for the
 * files of subdirectories). Ignored entries (dot files, `_*`, README,
 * `migration_lock.toml`, non-`.sql`/`.ts` files, `.d.ts`/`.test.ts`) never count.
 */
export function detectLayouts(fileNames: readonly string[]): MigrationLayout[] {
  const candidates = candidateEntries(fileNames);
  return MIGRATION_LAYOUTS.filter((layout) => migrationSource(layout).detect(candidates));
}

/**
 * The layout of a migrations directory from its listing (see
 * {@link detectLayouts}): the one layout whose file patterns appear, or
 * undefined when none does or several do.
 */
export function detectLayout(fileNames: readonly string[]): MigrationLayout | undefined {
  const layouts = detectLayouts(fileNames);
  return layouts.length === 1 ? layouts[0] : undefined;
}

/** Options of {@link loadMigrations}. */
export interface LoadMigrationsOptions {
  /** Use this layout instead of detecting it (the `layout` config key). */
  layout?: MigrationLayout;
}

/**
 * Reads every migration of `dir` into the shared model: versioned migrations
 * sorted by version (see `compareVersions`), then Flyway repeatables (`R__`)
 * by name. SQL is split and analysed with the PostgreSQL parser (loaded here).
 *
 * The layout is `options.layout` or detected from the file names: exactly one
 * layout's pattern must appear. A directory with no `.sql`/`.ts` file at all
 * (e.g. a new project) gives `[]`. With the layout settled, every candidate
 * file must fit it — a misnamed migration is an error, never skipped.
 *
 * @throws CutoverError (all category `config`):
 *   `MIGRATIONS_DIR_NOT_FOUND` — `dir` is missing or not a directory;
 *   `MIGRATION_LAYOUT_UNKNOWN` — `.sql`/`.ts` files but no known pattern (the message lists them and the patterns);
 *   `MIGRATION_LAYOUT_AMBIGUOUS` — files of several layouts (the message names one file of each);
 *   `MIGRATION_FILE_UNRECOGNIZED` — a file that does not fit the layout (a stray `.sql`, a down without up);
 *   `MIGRATION_PARSE_ERROR` — malformed file or SQL syntax error, at file:line:col;
 *   `MIGRATION_DUPLICATE_VERSION` — two files with one version, naming both;
 *   `MIGRATION_FILE_UNREADABLE` — a file cannot be read.
 */
export async function loadMigrations(
  dir: string,
  options: LoadMigrationsOptions = {},
): Promise<Migration[]> {
  const fileNames = await listMigrationDir(dir);
  let layout = options.layout;
  if (layout === undefined) {
    const candidates = candidateEntries(fileNames);
    if (candidates.length === 0) return [];
    const layouts = detectLayouts(fileNames);
    if (layouts.length > 1) throw ambiguousLayout(dir, layouts, candidates);
    layout = layouts[0];
    if (layout === undefined) throw unknownLayout(dir, candidates);
  }
  await loadSqlParser();
  return migrationSource(layout).load(dir);
}

function patternList(): string {
  return MIGRATION_LAYOUTS.map((l) => `${l}: ${LAYOUT_PATTERNS[l]}`).join('; ');
}

function listSome(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

function unknownLayout(dir: string, candidates: readonly string[]): CutoverError {
  return new CutoverError(
    'MIGRATION_LAYOUT_UNKNOWN',
    'config',
    `No known migration layout in ${dir}: found ${candidates.length} file(s) (${listSome(candidates)}) matching none of the supported patterns — ${patternList()}.`,
    {
      location: dir,
      hint: 'Rename the files to one of the supported patterns, or set `layout` in the config.',
      details: { found: candidates, patterns: LAYOUT_PATTERNS },
    },
  );
}

function ambiguousLayout(
  dir: string,
  layouts: readonly MigrationLayout[],
  candidates: readonly string[],
): CutoverError {
  const examples = layouts.map((layout) => {
    const source = migrationSource(layout);
    const example = candidates.find((c) => source.detect([c]));
    return `${layout} (${example ?? '?'})`;
  });
  return new CutoverError(
    'MIGRATION_LAYOUT_AMBIGUOUS',
    'config',
    `${dir} mixes migration layouts: ${examples.join(', ')}.`,
    {
      location: dir,
      hint: 'Keep one layout per directory: move the other files out (names starting with `_` or `.` are ignored).',
      details: { layouts, found: candidates },
    },
  );
}
