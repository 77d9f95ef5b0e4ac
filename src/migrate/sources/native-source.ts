import { join } from 'node:path';

import { checksumOf } from '../checksum.js';
import type { Migration, MigrationSource, SqlScript, SqlStatement } from '../migration.js';
import { splitStatements } from '../split-statements.js';
import {
  candidateEntries,
  listMigrationDir,
  parseError,
  readText,
  sortAndCheck,
  sqlScript,
  unrecognizedFile,
} from './source-support.js';

/** `NNNN_name.sql`, but not golang-migrate's `.up.sql` / `.down.sql`. */
const NATIVE_FILE = /^(\d+)_([^/]+)\.sql$/;
const GOLANG_SUFFIX = /\.(up|down)\.sql$/;
const MARKER = /^--\s*migrate:(up|down)(?:[ \t]+(.*))?$/;

/** The native file pattern, in words (for error messages and the README). */
export const NATIVE_PATTERN = '`NNNN_name.sql` with `-- migrate:up` / `-- migrate:down` sections';

/** Whether a file name is a native/dbmate migration file. */
export function isNativeFile(name: string): boolean {
  return NATIVE_FILE.test(name) && !GOLANG_SUFFIX.test(name);
}

/**
 * The native layout, which is dbmate's: one file per migration named
 * `<version>_<name>.sql` (version: digits, usually a timestamp), holding a
 * `-- migrate:up` section and an optional `-- migrate:down` section.
 *
 * As dbmate: the up marker must come first; only blank lines and comments
 * may precede it; a marker line may carry options, of which dbmate defines
 * `transaction:false` (run the section outside a transaction, statement by
 * statement). cutover rejects unknown options and values other than
 * `true`/`false` rather than ignoring a typo. A down section that is absent or
 * holds no statement (dbmate's template leaves it empty) gives `down: undefined`.
 * The checksum covers the whole file.
 */
export class NativeMigrationSource implements MigrationSource {
  readonly layout = 'native' as const;

  detect(fileNames: readonly string[]): boolean {
    return fileNames.some(isNativeFile);
  }

  async load(dir: string): Promise<Migration[]> {
    const migrations: Migration[] = [];
    for (const name of candidateEntries(await listMigrationDir(dir))) {
      if (name.includes('/')) continue;
      const file = join(dir, name);
      const match = NATIVE_FILE.exec(name);
      if (match === null || GOLANG_SUFFIX.test(name))
        throw unrecognizedFile(file, 'native', NATIVE_PATTERN);
      const text = await readText(file);
      const { up, down } = parseNativeFile(file, text);
      const migration: Migration = {
        version: match[1],
        name: match[2] ?? '',
        layout: 'native',
        kind: 'versioned',
        checksum: checksumOf(text),
        up,
        files: [file],
      };
      if (down !== undefined) migration.down = down;
      migrations.push(migration);
    }
    return sortAndCheck(migrations, 'native');
  }
}

interface Marker {
  direction: 'up' | 'down';
  /** Offset of the marker line's first character. */
  lineStart: number;
  /** Offset just after the marker line's line break (start of its section). */
  sectionStart: number;
  transactional: boolean;
}

/**
 * Parses a dbmate-style file into its up and down scripts.
 *
 * @throws CutoverError `MIGRATION_PARSE_ERROR` (config) at file:line:col for a
 *   missing up marker, a second marker, down before up, statements outside the
 *   sections, a bad marker option, or a SQL syntax error.
 */
export function parseNativeFile(file: string, text: string): { up: SqlScript; down?: SqlScript } {
  const markers: Marker[] = [];
  const lineRe = /[^\r\n]*(\r\n|\r|\n|$)/g;
  let match: RegExpExecArray | null;
  while ((match = lineRe.exec(text)) !== null) {
    const lineStart = match.index;
    const full = match[0];
    if (full === '') break;
    const line = full
      .replace(/^\ufeff/, '')
      .replace(/[\r\n]+$/, '')
      .trimEnd();
    const m = MARKER.exec(line);
    if (m !== null) {
      const direction = m[1] === 'down' ? 'down' : 'up';
      const transactional = parseOptions(file, text, lineStart, direction, m[2]);
      const previous = markers.find((x) => x.direction === direction);
      if (previous !== undefined) {
        throw parseError(
          file,
          text,
          lineStart,
          `a second \`-- migrate:${direction}\` line`,
          'Keep one up and at most one down section per file.',
        );
      }
      markers.push({ direction, lineStart, sectionStart: lineStart + full.length, transactional });
    }
    if (lineRe.lastIndex >= text.length) break;
  }
  const up = markers.find((m) => m.direction === 'up');
  const down = markers.find((m) => m.direction === 'down');
  if (up === undefined) {
    throw parseError(
      file,
      text,
      0,
      'no `-- migrate:up` line',
      'Start the file with a `-- migrate:up` line, followed by the up SQL and optionally a `-- migrate:down` section.',
    );
  }
  if (down !== undefined && down.lineStart < up.lineStart) {
    throw parseError(
      file,
      text,
      down.lineStart,
      '`-- migrate:down` comes before `-- migrate:up`',
      'Put the up section first.',
    );
  }
  const upEnd = down?.lineStart ?? text.length;
  const sections = splitOnce(file, text, up, upEnd, down);
  const outside =
    sections?.outside ?? splitStatements(text.slice(0, up.lineStart), file, 0, text)[0];
  if (outside !== undefined) {
    throw parseError(
      file,
      text,
      outside.offset,
      'a statement before the `-- migrate:up` line',
      'Move it into the up or down section.',
    );
  }
  const upScript = section(file, text, up, upEnd, sections?.up);
  const result: { up: SqlScript; down?: SqlScript } = { up: upScript };
  if (down !== undefined) {
    const downScript = section(file, text, down, text.length, sections?.down);
    if (downScript.statements.length > 0) result.down = downScript;
  }
  return result;
}

/**
 * Fast path: parses the whole file once and assigns the statements to the
 * sections by position (the markers are comments to the parser). Undefined
 * when the file does not parse as a whole or a statement runs across a
 * marker line (e.g. a missing semicolon before `-- migrate:down`): the
 * sections are then parsed one by one, as dbmate reads them, for exact errors.
 */
function splitOnce(
  file: string,
  text: string,
  up: Marker,
  upEnd: number,
  down: Marker | undefined,
): { outside?: SqlStatement; up: SqlStatement[]; down: SqlStatement[] } | undefined {
  let all: SqlStatement[];
  try {
    all = splitStatements(text, file);
  } catch {
    return undefined;
  }
  const result: { outside?: SqlStatement; up: SqlStatement[]; down: SqlStatement[] } = {
    up: [],
    down: [],
  };
  const boundaries = [
    up.lineStart,
    up.sectionStart,
    ...(down === undefined ? [] : [down.lineStart, down.sectionStart]),
  ];
  for (const statement of all) {
    const end = statement.offset + statement.sql.length;
    if (boundaries.some((b) => statement.offset < b && b < end)) return undefined;
    if (statement.offset < up.lineStart) result.outside ??= statement;
    else if (statement.offset < upEnd) result.up.push(statement);
    else result.down.push(statement);
  }
  return result;
}

function section(
  file: string,
  text: string,
  marker: Marker,
  end: number,
  statements: SqlStatement[] | undefined,
): SqlScript {
  const optOut = marker.transactional
    ? undefined
    : `the \`-- migrate:${marker.direction} transaction:false\` option (dbmate) opts out of the transaction`;
  return sqlScript(file, text, {
    text: text.slice(marker.sectionStart, end),
    baseOffset: marker.sectionStart,
    ...(optOut === undefined ? {} : { optOut }),
    ...(statements === undefined ? {} : { statements }),
  });
}

/** Parses `key:value` options after a marker; returns whether the section is transactional. */
function parseOptions(
  file: string,
  text: string,
  lineStart: number,
  direction: string,
  rest: string | undefined,
): boolean {
  let transactional = true;
  for (const option of (rest ?? '').split(/\s+/).filter((o) => o !== '')) {
    const [key, value, ...extra] = option.split(':');
    if (key === 'transaction' && extra.length === 0 && (value === 'true' || value === 'false')) {
      transactional = value === 'true';
      continue;
    }
    throw parseError(
      file,
      text,
      lineStart,
      `unknown option \`${option}\` on the \`-- migrate:${direction}\` line`,
      'The only option is `transaction:false` (or `transaction:true`), as in dbmate.',
    );
  }
  return transactional;
}
