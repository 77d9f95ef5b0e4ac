import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { CutoverError } from '../errors/index.js';

const execFileAsync = promisify(execFile);

/** A PostgreSQL major.minor version. */
export interface PgVersion {
  major: number;
  minor: number;
  /** As printed, e.g. `15.18`. */
  text: string;
}

/** The PostgreSQL client tools cutover uses for backups. */
export interface PgTools {
  /** Absolute path of `pg_dump`. */
  pgDump: string;
  /** Absolute path of `pg_restore` (same directory as `pg_dump`). */
  pgRestore: string;
  /** Version of `pg_dump`. */
  version: PgVersion;
}

/** Options of {@link findPgTools}. */
export interface FindPgToolsOptions {
  /**
   * Directories to search, in place of the default: every directory of
   * `PATH`, then `/usr/lib/postgresql/<version>/bin` (Debian/Ubuntu),
   * `/usr/pgsql-<version>/bin` (RHEL), Homebrew's `libpq` and Postgres.app.
   */
  searchDirs?: readonly string[];
  /** `PATH` to use for the default search. Default `process.env.PATH`. */
  path?: string;
  /**
   * The server's major version: tools older than it are rejected
   * (`pg_dump` cannot dump a newer server).
   */
  serverMajor?: number;
}

const GLOB_DIRS: { parent: string; pattern: RegExp; sub: string }[] = [
  { parent: '/usr/lib/postgresql', pattern: /^\d+(\.\d+)?$/, sub: 'bin' },
  { parent: '/usr', pattern: /^pgsql-\d+$/, sub: 'bin' },
  { parent: '/Applications/Postgres.app/Contents/Versions', pattern: /^(\d+|latest)$/, sub: 'bin' },
];
const FIXED_DIRS = ['/opt/homebrew/opt/libpq/bin', '/usr/local/opt/libpq/bin'];

/** The default search directories (see {@link FindPgToolsOptions.searchDirs}). */
export async function defaultPgToolDirs(path = process.env.PATH ?? ''): Promise<string[]> {
  const dirs = path.split(delimiter).filter((d) => d !== '');
  for (const glob of GLOB_DIRS) {
    let names: string[] = [];
    try {
      names = await readdir(glob.parent);
    } catch {
      continue;
    }
    const versions = names
      .filter((n) => glob.pattern.test(n))
      .sort((a, b) => Number(b.replace(/\D+/g, '')) - Number(a.replace(/\D+/g, '')));
    dirs.push(...versions.map((v) => join(glob.parent, v, glob.sub)));
  }
  dirs.push(...FIXED_DIRS);
  return [...new Set(dirs)];
}

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → 15.18. */
export function parsePgVersion(output: string): PgVersion | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(output);
  if (match === null) return undefined;
  const major = Number(match[1]);
  const minor = Number(match[2] ?? 0);
  return { major, minor, text: `${major}.${minor}` };
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds `pg_dump` and `pg_restore`: every candidate directory holding both
 * is asked for its version (`pg_dump --version`) and the highest version wins
 * (newer `pg_dump` dumps older servers; the reverse is refused by `pg_dump`).
 *
 * @throws CutoverError `PG_DUMP_NOT_FOUND` (unavailable) when none is found;
 *   `PG_DUMP_TOO_OLD` (unavailable) when the newest found is older than `serverMajor`.
 */
export async function findPgTools(options: FindPgToolsOptions = {}): Promise<PgTools> {
  const dirs = options.searchDirs ?? (await defaultPgToolDirs(options.path));
  const found: PgTools[] = [];
  for (const dir of dirs) {
    const pgDump = join(dir, 'pg_dump');
    const pgRestore = join(dir, 'pg_restore');
    if (!(await isExecutable(pgDump)) || !(await isExecutable(pgRestore))) continue;
    try {
      const { stdout } = await execFileAsync(pgDump, ['--version'], { timeout: 10_000 });
      const version = parsePgVersion(stdout);
      if (version !== undefined) found.push({ pgDump, pgRestore, version });
    } catch {
      // Not runnable (broken wrapper, wrong architecture): skip it.
    }
  }
  found.sort((a, b) => b.version.major - a.version.major || b.version.minor - a.version.minor);
  const best = found[0];
  if (best === undefined) {
    throw new CutoverError(
      'PG_DUMP_NOT_FOUND',
      'unavailable',
      `pg_dump and pg_restore were not found (searched ${dirs.length === 0 ? 'nothing' : dirs.join(', ')}).`,
      {
        hint: 'Install the PostgreSQL client tools, at least the server’s version (Debian/Ubuntu: apt-get install postgresql-client; macOS: brew install libpq), or put pg_dump on PATH.',
        details: { searched: [...dirs] },
      },
    );
  }
  if (options.serverMajor !== undefined && best.version.major < options.serverMajor) {
    throw new CutoverError(
      'PG_DUMP_TOO_OLD',
      'unavailable',
      `pg_dump ${best.version.text} (${best.pgDump}) is older than the server (PostgreSQL ${options.serverMajor}) and cannot dump it.`,
      {
        hint: `Install the PostgreSQL ${options.serverMajor} client tools or newer (Debian/Ubuntu: apt-get install postgresql-client-${options.serverMajor}; macOS: brew install libpq) and put them on PATH.`,
        details: { found: found.map((t) => ({ path: t.pgDump, version: t.version.text })) },
      },
    );
  }
  return best;
}
