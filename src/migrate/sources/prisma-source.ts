import { join } from 'node:path';

import { checksumOf } from '../checksum.js';
import type { Migration, MigrationSource } from '../migration.js';
import {
  candidateEntries,
  listMigrationDir,
  readText,
  sortAndCheck,
  sqlScript,
  unrecognizedFile,
} from './source-support.js';

const PRISMA_DIR = /^(\d+)_(.+)$/;
const PRISMA_MIGRATION = /^(\d+)_([^/]+)\/migration\.sql$/;

/** The Prisma file pattern, in words. */
export const PRISMA_PATTERN = '`<timestamp>_<name>/migration.sql` (optional `down.sql` beside it)';

/** Whether a listing entry (`dir/file`) is a Prisma migration script. */
export function isPrismaEntry(name: string): boolean {
  return PRISMA_MIGRATION.test(name);
}

/**
 * Prisma Migrate's layout: one directory per migration named
 * `<timestamp>_<name>` (the timestamp, `YYYYMMDDHHMMSS`, is the version,
 * compared numerically) holding `migration.sql`, plus — cutover's addition,
 * as Prisma has no down migrations — an optional `down.sql` beside it (an
 * empty one counts as none). `migration_lock.toml` is ignored. A migration
 * directory without `migration.sql`, or a `.sql`/`.ts` file at the top level,
 * is an error. The checksum is `migration.sql`'s; `files` lists `migration.sql`
 * then `down.sql`.
 */
export class PrismaSource implements MigrationSource {
  readonly layout = 'prisma' as const;

  detect(fileNames: readonly string[]): boolean {
    return fileNames.some(isPrismaEntry);
  }

  async load(dir: string): Promise<Migration[]> {
    const listing = await listMigrationDir(dir);
    const byDir = new Map<string, Set<string>>();
    for (const entry of listing) {
      const slash = entry.indexOf('/');
      if (slash < 0) continue;
      const sub = entry.slice(0, slash);
      const set = byDir.get(sub) ?? new Set<string>();
      set.add(entry.slice(slash + 1));
      byDir.set(sub, set);
    }
    for (const entry of candidateEntries(listing)) {
      if (!entry.includes('/')) throw unrecognizedFile(join(dir, entry), 'prisma', PRISMA_PATTERN);
    }
    const migrations: Migration[] = [];
    for (const [sub, files] of byDir) {
      const match = PRISMA_DIR.exec(sub);
      if (match === null) {
        if (files.has('migration.sql')) {
          throw unrecognizedFile(join(dir, sub, 'migration.sql'), 'prisma', PRISMA_PATTERN);
        }
        continue;
      }
      if (!files.has('migration.sql')) {
        throw unrecognizedFile(
          join(dir, sub),
          'prisma',
          'a migration.sql file in each migration directory',
        );
      }
      const upFile = join(dir, sub, 'migration.sql');
      const upText = await readText(upFile);
      const migration: Migration = {
        version: match[1],
        name: match[2] ?? '',
        layout: 'prisma',
        kind: 'versioned',
        checksum: checksumOf(upText),
        up: sqlScript(upFile, upText),
        files: [upFile],
      };
      if (files.has('down.sql')) {
        const downFile = join(dir, sub, 'down.sql');
        migration.files.push(downFile);
        const down = sqlScript(downFile, await readText(downFile));
        if (down.statements.length > 0) migration.down = down;
      }
      migrations.push(migration);
    }
    return sortAndCheck(migrations, 'prisma');
  }
}
