import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import pg from 'pg';
import { CutoverError } from '../errors/index.js';
import { parseDatabaseUrl, redactDatabaseUrl, toConnectionError } from '../db/index.js';
import type { Clock } from '../steps/step-kind.js';
import { findPgTools, type FindPgToolsOptions, type PgTools } from './pg-tools.js';
import { SNAPSHOT_SCHEMA } from './snapshots.js';
import { systemClock } from './system-clock.js';

/** Schemas that hold cutover's own state; {@link restoreBackup} skips them by default. */
export const CUTOVER_SCHEMAS: readonly string[] = ['cutover', SNAPSHOT_SCHEMA];

/** A backup file and what is known about it (from its `.json` sidecar). */
export interface BackupInfo {
  /** File name, e.g. `20240601T120000Z-app.dump` (what `cutover backup restore` takes). */
  name: string;
  /** Absolute path of the dump. */
  file: string;
  /** Database dumped. */
  database?: string;
  /** When the dump started (ISO 8601). */
  createdAt: string;
  /** Size of the dump in bytes. */
  bytes: number;
  /** Entries in the archive's table of contents (`pg_restore --list`). */
  entries?: number;
  /** Server version (`server_version`). */
  serverVersion?: string;
  /** `pg_dump` version used. */
  pgDumpVersion?: string;
  /** Run and step that took it, when taken by a plan. */
  runId?: string;
  stepId?: string;
  /** How long the dump and its verification took, in ms. */
  durationMs?: number;
}

/** Options of {@link createBackup}. */
export interface CreateBackupOptions {
  /** Database to dump (its password is passed to `pg_dump` through `PGPASSWORD`, not the command line). */
  databaseUrl: string;
  /** Directory of backups, normally `<stateDir>/backups` (created if missing). */
  dir: string;
  /** Run and step taking the backup: recorded, and used to find it again on resume. */
  runId?: string;
  stepId?: string;
  /** The tools to use, or how to find them (default: {@link findPgTools}'s search). */
  tools?: PgTools | FindPgToolsOptions;
  /** Aborting kills `pg_dump` and removes the partial file. */
  signal?: AbortSignal;
  /** Clock for the file name and duration. Default the system clock. */
  clock?: Clock;
}

function isTools(value: PgTools | FindPgToolsOptions | undefined): value is PgTools {
  return value !== undefined && 'pgDump' in value;
}

/** Connection for the pg tools: URL without the password, password in the environment. */
function toolConnection(databaseUrl: string): { url: string; env: NodeJS.ProcessEnv } {
  const url = new URL(parseDatabaseUrl(databaseUrl));
  const password = decodeURIComponent(url.password);
  url.password = '';
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (password !== '') env.PGPASSWORD = password;
  return { url: url.toString(), env };
}

interface ServerFacts {
  database: string;
  serverVersion: string;
  serverMajor: number;
}

async function serverFacts(databaseUrl: string): Promise<ServerFacts> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ db: string; version: string; num: string }>(
      `select current_database() as db, current_setting('server_version') as version,
              current_setting('server_version_num') as num`,
    );
    const row = rows[0];
    return {
      database: row?.db ?? '',
      serverVersion: row?.version ?? '',
      serverMajor: Math.floor(Number(row?.num ?? 0) / 10_000),
    };
  } catch (error) {
    throw toConnectionError(error, redactDatabaseUrl(databaseUrl));
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs a tool; resolves with stdout, rejects with CutoverError `code` naming stderr's last lines. */
function runTool(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; code: string; what: string },
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => {
      if (options.signal?.aborted === true) {
        reject(options.signal.reason as Error);
        return;
      }
      reject(
        new CutoverError(
          options.code,
          'failed',
          `${options.what} could not start: ${error.message}.`,
          {
            cause: error,
          },
        ),
      );
    });
    child.on('close', (exitCode) => {
      if (options.signal?.aborted === true) {
        reject(options.signal.reason as Error);
        return;
      }
      if (exitCode === 0) {
        resolvePromise(Buffer.concat(out).toString('utf8'));
        return;
      }
      const stderr = Buffer.concat(err).toString('utf8').trim();
      const lines = stderr.split('\n').slice(-5).join(' | ');
      reject(
        new CutoverError(
          options.code,
          'failed',
          `${options.what} failed (exit code ${String(exitCode)}): ${lines || 'no message'}.`,
          {
            hint: 'Read the message above; check permissions, disk space and the connection.',
            details: { command, args: args.filter((a) => !a.includes('://')), stderr },
          },
        ),
      );
    });
  });
}

function timestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function sanitize(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/**
 * Takes a full backup of the database with `pg_dump --format=custom` into
 * `dir` and verifies it by reading its table of contents with
 * `pg_restore --list`. The dump is written to `<name>.partial` and renamed
 * only once verified, so a listed backup is always complete; a sidecar
 * `<name>.json` records database, versions, size, entries, run and step.
 *
 * Idempotent per `(runId, stepId)`: when a backup of that run and step exists
 * in `dir`, it is returned without dumping again (resume). A dump of that run
 * and step cut short by a crash leaves a `.partial` file; the next attempt
 * removes it (and a sidecar without its dump) before dumping again.
 *
 * @throws CutoverError `PG_DUMP_NOT_FOUND` / `PG_DUMP_TOO_OLD` (unavailable),
 *   `DATABASE_UNREACHABLE` (unavailable), `BACKUP_FAILED` (failed),
 *   `BACKUP_VERIFY_FAILED` (failed); the signal's reason when aborted.
 */
export async function createBackup(options: CreateBackupOptions): Promise<BackupInfo> {
  options.signal?.throwIfAborted();
  const clock = options.clock ?? systemClock;
  const dir = resolve(options.dir);
  if (options.runId !== undefined && options.stepId !== undefined) {
    const existing = (await listBackups({ dir })).find(
      (b) => b.runId === options.runId && b.stepId === options.stepId,
    );
    if (existing !== undefined) return existing;
  }
  const facts = await serverFacts(options.databaseUrl);
  const tools = isTools(options.tools)
    ? options.tools
    : await findPgTools({ ...options.tools, serverMajor: facts.serverMajor });
  if (tools.version.major < facts.serverMajor) {
    throw new CutoverError(
      'PG_DUMP_TOO_OLD',
      'unavailable',
      `pg_dump ${tools.version.text} (${tools.pgDump}) is older than the server (PostgreSQL ${facts.serverVersion}) and cannot dump it.`,
      {
        hint: `Install the PostgreSQL ${facts.serverMajor} client tools or newer and put them on PATH.`,
      },
    );
  }
  await mkdir(dir, { recursive: true });
  const started = clock.now();
  const parts = [timestamp(started), sanitize(facts.database)];
  if (options.runId !== undefined) parts.push(sanitize(options.runId.slice(0, 8)));
  if (options.stepId !== undefined) parts.push(sanitize(options.stepId));
  if (options.runId !== undefined && options.stepId !== undefined) {
    // A dump of this run and step cut short by a crash (the process was killed
    // before it could clean up): its partial file and any sidecar without a dump.
    await removeLeftovers(dir, `-${parts.slice(2).join('-')}.dump`);
  }
  const name = `${parts.join('-')}.dump`;
  const file = join(dir, name);
  const partial = `${file}.partial`;
  const connection = toolConnection(options.databaseUrl);
  try {
    await runTool(
      tools.pgDump,
      ['--format=custom', '--file', partial, '--dbname', connection.url],
      {
        env: connection.env,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        code: 'BACKUP_FAILED',
        what: 'pg_dump',
      },
    );
    let list: string;
    try {
      list = await runTool(tools.pgRestore, ['--list', partial], {
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        code: 'BACKUP_VERIFY_FAILED',
        what: 'pg_restore --list (verification of the dump)',
      });
    } catch (error) {
      throw error instanceof CutoverError
        ? new CutoverError(error.code, error.category, error.message, {
            hint: 'The dump is unreadable; it was removed. Check disk space and retry.',
            cause: error,
          })
        : error;
    }
    const entries = tocEntries(list).length;
    const info: BackupInfo = {
      name,
      file,
      database: facts.database,
      createdAt: new Date(started).toISOString(),
      bytes: (await stat(partial)).size,
      entries,
      serverVersion: facts.serverVersion,
      pgDumpVersion: tools.version.text,
      ...(options.runId === undefined ? {} : { runId: options.runId }),
      ...(options.stepId === undefined ? {} : { stepId: options.stepId }),
      durationMs: clock.now() - started,
    };
    // The sidecar first: a listed dump always has it (its run and step find it on resume).
    await writeFile(`${file}.json`, JSON.stringify(info, null, 2) + '\n');
    await rename(partial, file);
    return info;
  } finally {
    await rm(partial, { force: true });
  }
}

/**
 * Removes what interrupted dumps named `…<suffix>` left in `dir`: their
 * `.partial` files, and sidecars (`.json`) whose dump does not exist.
 */
async function removeLeftovers(dir: string, suffix: string): Promise<void> {
  const names = await readdir(dir);
  for (const name of names) {
    const stale =
      name.endsWith(`${suffix}.partial`) ||
      (name.endsWith(`${suffix}.json`) && !names.includes(name.slice(0, -'.json'.length)));
    if (stale) await rm(join(dir, name), { force: true });
  }
}

/** Options of {@link listBackups}. */
export interface ListBackupsOptions {
  /** Directory of backups (`<stateDir>/backups`). A missing directory lists nothing. */
  dir: string;
}

/**
 * The complete backups in `dir` (files ending in `.dump`; partial files are
 * skipped), oldest first, with their sidecar's facts when present.
 */
export async function listBackups(options: ListBackupsOptions): Promise<BackupInfo[]> {
  const dir = resolve(options.dir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const backups: BackupInfo[] = [];
  for (const name of names.filter((n) => n.endsWith('.dump')).sort()) {
    const file = join(dir, name);
    let facts: Partial<BackupInfo> = {};
    try {
      facts = JSON.parse(await readFile(`${file}.json`, 'utf8')) as Partial<BackupInfo>;
    } catch {
      // No sidecar (copied in by hand): list what the file says.
    }
    let size: number;
    let mtime: Date;
    try {
      ({ size, mtime } = await stat(file));
    } catch {
      continue;
    }
    backups.push({
      ...facts,
      name,
      file,
      bytes: size,
      createdAt: typeof facts.createdAt === 'string' ? facts.createdAt : mtime.toISOString(),
    });
  }
  return backups.sort(
    (a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name),
  );
}

/** Options of {@link restoreBackup}. */
export interface RestoreBackupOptions {
  /** Database to restore into (the same one, or a fresh one). */
  databaseUrl: string;
  /** The backup: a file name in `dir`, or a path. */
  backup: string;
  /** Directory of backups, for a bare file name. */
  dir?: string;
  /**
   * Drop each object of the dump before recreating it (`--clean --if-exists`).
   * Default true. Objects created after the backup are left alone.
   */
  clean?: boolean;
  /**
   * Also restore cutover's own schemas (`cutover`: runs and the audit log;
   * `cutover_snapshots`). Default false: restoring them would rewind the
   * audit log and lose later snapshots.
   */
  includeCutoverSchemas?: boolean;
  tools?: PgTools | FindPgToolsOptions;
  /** Aborting kills `pg_restore`; its single transaction rolls back. */
  signal?: AbortSignal;
}

/** Result of {@link restoreBackup}. */
export interface RestoreBackupResult {
  file: string;
  /** Archive entries restored. */
  entries: number;
  /** Entries skipped because they belong to cutover's schemas. */
  skipped: number;
}

/**
 * One table-of-contents line of `pg_restore --list`:
 * `dumpId; tableoid oid TYPE schema name owner` (`schema` is `-` for objects
 * outside a schema, such as schemas themselves).
 */
function tocEntries(list: string): string[] {
  return list.split('\n').filter((line) => /^\d+;/.test(line));
}

/** True when a TOC line belongs to one of `schemas` (its schema field, or the schema itself). */
export function tocLineInSchemas(line: string, schemas: readonly string[]): boolean {
  const match = /^\d+; \d+ \d+ ([A-Z]+(?: [A-Z]+)*) (\S+) (.*)$/.exec(line);
  if (match === null) return false;
  const [, , schema = '', rest = ''] = match;
  if (schemas.includes(schema)) return true;
  if (schema !== '-') return false;
  // Schema-level entries: `SCHEMA - cutover owner`, `COMMENT - SCHEMA cutover owner`, `ACL - SCHEMA cutover owner`.
  const words = rest.split(' ');
  const name = words[0] === 'SCHEMA' ? words[1] : words[0];
  return name !== undefined && schemas.includes(name);
}

/**
 * Restores a backup with `pg_restore` into `databaseUrl` in ONE transaction
 * (`--single-transaction --exit-on-error`): all or nothing. By default each
 * object of the dump is dropped first (`--clean --if-exists`) and cutover's
 * own schemas are skipped (see {@link RestoreBackupOptions.includeCutoverSchemas}),
 * using a filtered `--use-list`.
 *
 * @throws CutoverError `BACKUP_NOT_FOUND` (not_found), `PG_DUMP_NOT_FOUND`
 *   (unavailable), `BACKUP_RESTORE_FAILED` (failed); the signal's reason when aborted.
 */
export async function restoreBackup(options: RestoreBackupOptions): Promise<RestoreBackupResult> {
  options.signal?.throwIfAborted();
  const file =
    isAbsolute(options.backup) || options.dir === undefined
      ? resolve(options.backup)
      : join(resolve(options.dir), options.backup);
  try {
    await stat(file);
  } catch {
    throw new CutoverError('BACKUP_NOT_FOUND', 'not_found', `No backup file ${file}.`, {
      hint: 'List the backups with `cutover backup list`.',
    });
  }
  const tools = isTools(options.tools) ? options.tools : await findPgTools(options.tools ?? {});
  const signalOption = options.signal === undefined ? {} : { signal: options.signal };
  const list = await runTool(tools.pgRestore, ['--list', file], {
    ...signalOption,
    code: 'BACKUP_RESTORE_FAILED',
    what: 'pg_restore --list',
  });
  const excluded = options.includeCutoverSchemas === true ? [] : CUTOVER_SCHEMAS;
  const kept: string[] = [];
  let skipped = 0;
  for (const line of list.split('\n')) {
    if (/^\d+;/.test(line) && tocLineInSchemas(line, excluded)) {
      kept.push(`;${line}`);
      skipped++;
    } else {
      kept.push(line);
    }
  }
  const listFile = `${file}.restore-list-${process.pid}`;
  await writeFile(listFile, kept.join('\n'));
  const connection = toolConnection(options.databaseUrl);
  try {
    await runTool(
      tools.pgRestore,
      [
        '--dbname',
        connection.url,
        '--use-list',
        listFile,
        '--single-transaction',
        '--exit-on-error',
        ...(options.clean === false ? [] : ['--clean', '--if-exists']),
        file,
      ],
      { env: connection.env, ...signalOption, code: 'BACKUP_RESTORE_FAILED', what: 'pg_restore' },
    );
  } finally {
    await rm(listFile, { force: true });
  }
  return { file, entries: tocEntries(list).length - skipped, skipped };
}
