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

const GOLANG_FILE = /^(\d+)_([^/]+)\.(up|down)\.sql$/;

/** The golang-migrate file pattern, in words. */
export const GOLANG_MIGRATE_PATTERN = '`N_name.up.sql` and `N_name.down.sql`';

/** Whether a file name is a golang-migrate migration file. */
export function isGolangMigrateFile(name: string): boolean {
  return GOLANG_FILE.test(name);
}

/**
 * golang-migrate's layout: `<version>_<title>.up.sql` and, optionally,
 * `<version>_<title>.down.sql`; the version is an unsigned integer, compared
 * numerically (golang-migrate parses it as a uint). The up and down files of
 * one version must share the title. A down file without an up file, or two
 * up files with one version, is an error. An empty down file counts as no
 * down. The checksum is the up file's.
 */
export class GolangMigrateSource implements MigrationSource {
  readonly layout = 'golang-migrate' as const;

  detect(fileNames: readonly string[]): boolean {
    return fileNames.some(isGolangMigrateFile);
  }

  async load(dir: string): Promise<Migration[]> {
    const ups = new Map<string, { version: string; name: string; file: string }>();
    const downs = new Map<string, string>();
    const upList: { version: string; name: string; file: string }[] = [];
    for (const entry of candidateEntries(await listMigrationDir(dir))) {
      if (entry.includes('/')) continue;
      const file = join(dir, entry);
      const match = GOLANG_FILE.exec(entry);
      if (match === null) throw unrecognizedFile(file, 'golang-migrate', GOLANG_MIGRATE_PATTERN);
      const version = match[1] ?? '';
      const name = match[2] ?? '';
      const key = `${version}_${name}`;
      if (match[3] === 'up') {
        const up = { version, name, file };
        ups.set(key, up);
        upList.push(up);
      } else {
        downs.set(key, file);
      }
    }
    for (const [key, file] of downs) {
      if (!ups.has(key)) {
        throw unrecognizedFile(
          file,
          'golang-migrate',
          `a matching up file ${key}.up.sql beside it`,
        );
      }
    }
    const migrations: Migration[] = [];
    for (const up of upList) {
      const upText = await readText(up.file);
      const migration: Migration = {
        version: up.version,
        name: up.name,
        layout: 'golang-migrate',
        kind: 'versioned',
        checksum: checksumOf(upText),
        up: sqlScript(up.file, upText),
        files: [up.file],
      };
      const downFile = downs.get(`${up.version}_${up.name}`);
      if (downFile !== undefined) {
        migration.files.push(downFile);
        const down = sqlScript(downFile, await readText(downFile));
        if (down.statements.length > 0) migration.down = down;
      }
      migrations.push(migration);
    }
    return sortAndCheck(migrations, 'golang-migrate');
  }
}
