import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CutoverError } from '../errors/index.js';
import type { Migration, MigrationLayout } from './migration.js';

/** What `create` wrote. */
export interface CreatedMigration {
  /** The new version. */
  version: string;
  /** The normalized name (`add_email_to_users`). */
  name: string;
  layout: MigrationLayout;
  /** Absolute paths of the files created. */
  files: string[];
}

/** Options of {@link createMigrationFiles}. */
export interface CreateMigrationOptions {
  /** Layout to create; default: the directory's, else `native`. */
  layout?: MigrationLayout;
  /** Clock for timestamp versions (ms since the epoch). */
  now: () => number;
  /** Loads the existing migrations (to number after them). */
  load: () => Promise<Migration[]>;
}

/**
 * Writes the files of a new empty migration named `name` in `dir` (see
 * `Migrator.create`). Numbering: when the newest version has 14 digits
 * (a `YYYYMMDDHHMMSS` timestamp) or the layout is `prisma`, a UTC timestamp
 * from the clock (bumped past the newest version if needed); otherwise the
 * newest version + 1, zero-padded to the same width (default width 4, 6 for
 * golang-migrate; the first version is 1, e.g. `0001`, so that `down --to 0`
 * reverts everything); Flyway: the next major version. Never overwrites a file.
 *
 * @throws CutoverError `MIGRATION_NAME_INVALID` (usage), `MIGRATION_FILE_EXISTS` (config).
 */
export async function createMigrationFiles(
  dir: string,
  rawName: string,
  options: CreateMigrationOptions,
): Promise<CreatedMigration> {
  const name = rawName
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (name === '') {
    throw new CutoverError(
      'MIGRATION_NAME_INVALID',
      'usage',
      `"${rawName}" is not a usable migration name.`,
      { hint: 'Use letters and digits, e.g. add_email_to_users.' },
    );
  }
  await mkdir(dir, { recursive: true });
  const entries = (await readdir(dir)).filter((e) => !e.startsWith('.'));
  const existing = entries.length === 0 ? [] : await options.load();
  const layout = options.layout ?? existing[0]?.layout ?? 'native';
  const versions = existing.map((m) => m.version).filter((v): v is string => v !== undefined);
  const version = nextVersion(versions, layout, options.now());
  const files: { path: string; text: string }[] = [];
  switch (layout) {
    case 'native':
      files.push({
        path: join(dir, `${version}_${name}.sql`),
        text: `-- migrate:up\n\n\n-- migrate:down\n\n`,
      });
      break;
    case 'golang-migrate':
      files.push({ path: join(dir, `${version}_${name}.up.sql`), text: '' });
      files.push({ path: join(dir, `${version}_${name}.down.sql`), text: '' });
      break;
    case 'flyway':
      files.push({ path: join(dir, `V${version}__${name}.sql`), text: '' });
      files.push({ path: join(dir, `U${version}__${name}.sql`), text: '' });
      break;
    case 'prisma':
      await mkdir(join(dir, `${version}_${name}`));
      files.push({ path: join(dir, `${version}_${name}`, 'migration.sql'), text: '' });
      files.push({ path: join(dir, `${version}_${name}`, 'down.sql'), text: '' });
      break;
    case 'typescript':
      files.push({
        path: join(dir, `${version}_${name}.ts`),
        text: [
          `import type { MigrationClient } from 'cutover';`,
          ``,
          `export async function up(db: MigrationClient): Promise<void> {`,
          `  await db.query('select 1');`,
          `}`,
          ``,
          `export async function down(db: MigrationClient): Promise<void> {`,
          `  await db.query('select 1');`,
          `}`,
          ``,
        ].join('\n'),
      });
      break;
  }
  for (const file of files) {
    try {
      await writeFile(file.path, file.text, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new CutoverError('MIGRATION_FILE_EXISTS', 'config', `${file.path} already exists.`, {
          location: file.path,
          hint: 'Pick another name, or wait a second when versions are timestamps.',
        });
      }
      throw error;
    }
  }
  return { version, name, layout, files: files.map((f) => f.path) };
}

function nextVersion(versions: readonly string[], layout: MigrationLayout, now: number): string {
  if (layout === 'flyway') {
    let max = 0n;
    for (const v of versions) {
      const major = BigInt(/^\d+/.exec(v)?.[0] ?? '0');
      if (major > max) max = major;
    }
    return String(max + 1n);
  }
  const integers = versions.filter((v) => /^\d+$/.test(v));
  // The first migration is 0001, never 0000 (`down --to 0` reverts everything).
  let max = 0n;
  let width = layout === 'golang-migrate' ? 6 : 4;
  for (const v of integers) {
    const n = BigInt(v);
    if (n > max) {
      max = n;
      width = v.length;
    }
  }
  if (layout === 'prisma' || (integers.length > 0 && width === 14)) {
    const stamp = BigInt(new Date(now).toISOString().replace(/\D/g, '').slice(0, 14));
    return String(stamp > max ? stamp : max + 1n);
  }
  return String(max + 1n).padStart(width, '0');
}
