import { join } from 'node:path';

import { checksumOf } from '../checksum.js';
import { compareVersions, isValidVersion } from '../compare-versions.js';
import type { Migration, MigrationSource } from '../migration.js';
import {
  candidateEntries,
  listMigrationDir,
  parseError,
  readText,
  sortAndCheck,
  sqlScript,
  unrecognizedFile,
} from './source-support.js';

/** Any `V…__…sql`, `U…__…sql`, `R__…sql` (versions validated on load). */
const FLYWAY_FILE = /^([VU])([^_/]*(?:_[^_/]+)*?)__([^/]+)\.sql$|^R__([^/]+)\.sql$/;

/** The Flyway file patterns, in words. */
export const FLYWAY_PATTERN =
  '`V<version>__<name>.sql`, `U<version>__<name>.sql` (undo) or `R__<name>.sql` (repeatable)';

/** Whether a file name is a Flyway migration file. */
export function isFlywayFile(name: string): boolean {
  return FLYWAY_FILE.test(name);
}

/**
 * Flyway's default naming: versioned `V<version>__<description>.sql`, undo
 * `U<version>__<description>.sql` (the down of the V file with the same
 * version) and repeatable `R__<description>.sql` (no version; re-applied after
 * the versioned ones whenever its checksum changes; ordered by description).
 *
 * Versions are numeric parts separated by `.` or `_` (Flyway documents `_` as a
 * separator: `V2_1__x.sql` is version 2.1). `Migration.version` holds the
 * version with `_` replaced by `.`, which is how Flyway records it in
 * `flyway_schema_history`. Versions compare numerically part by part (see
 * `compareVersions`), so `1.10 > 1.9` and `2_1` duplicates `2.1`. An undo
 * file without a versioned file of that version is an error. Only the top
 * level of the directory is read (Flyway itself also scans subfolders).
 */
export class FlywaySource implements MigrationSource {
  readonly layout = 'flyway' as const;

  detect(fileNames: readonly string[]): boolean {
    return fileNames.some(isFlywayFile);
  }

  async load(dir: string): Promise<Migration[]> {
    const migrations: Migration[] = [];
    const undos: { version: string; file: string }[] = [];
    for (const entry of candidateEntries(await listMigrationDir(dir))) {
      if (entry.includes('/')) continue;
      const file = join(dir, entry);
      const match = FLYWAY_FILE.exec(entry);
      if (match === null) throw unrecognizedFile(file, 'flyway', FLYWAY_PATTERN);
      const text = await readText(file);
      if (match[4] !== undefined) {
        migrations.push({
          version: undefined,
          name: match[4],
          layout: 'flyway',
          kind: 'repeatable',
          checksum: checksumOf(text),
          up: sqlScript(file, text),
          files: [file],
        });
        continue;
      }
      const rawVersion = match[2] ?? '';
      if (!isValidVersion(rawVersion, 'flyway')) {
        throw parseError(
          file,
          text,
          0,
          `invalid Flyway version \`${rawVersion}\` in the file name ${entry}`,
          'A Flyway version is numbers separated by `.` or `_`, e.g. V1__init.sql, V1.2__add_email.sql, V2_1__x.sql.',
        );
      }
      const version = rawVersion.replace(/_/g, '.');
      if (match[1] === 'U') {
        undos.push({ version, file });
        continue;
      }
      migrations.push({
        version,
        name: match[3] ?? '',
        layout: 'flyway',
        kind: 'versioned',
        checksum: checksumOf(text),
        up: sqlScript(file, text),
        files: [file],
      });
    }
    const sorted = sortAndCheck(migrations, 'flyway');
    const undoOf = new Map<Migration, string>();
    for (const undo of undos) {
      const target = sorted.find(
        (m) =>
          m.kind === 'versioned' &&
          m.version !== undefined &&
          compareVersions(m.version, undo.version, 'flyway') === 0,
      );
      if (target === undefined) {
        throw unrecognizedFile(
          undo.file,
          'flyway',
          `a versioned file V${undo.version}__<name>.sql for this undo file`,
        );
      }
      const other = undoOf.get(target);
      if (other !== undefined) {
        throw unrecognizedFile(
          undo.file,
          'flyway',
          `one undo file per version (${other} is one too)`,
        );
      }
      undoOf.set(target, undo.file);
      target.files.push(undo.file);
      const down = sqlScript(undo.file, await readText(undo.file));
      // An empty undo file counts as no undo.
      if (down.statements.length > 0) target.down = down;
    }
    return sorted;
  }
}
