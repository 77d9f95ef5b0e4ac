import pg from 'pg';
import type { Flag } from '../../src/flags/model.js';
import { startServer } from '../../src/server/start-server.js';
import type { RunningServer, StartServerOptions } from '../../src/server/start-server.js';
import { createTokenStore } from '../../src/server/token-store.js';
import { ensureControlSchema } from '../../src/store/index.js';

/** A running `cutover serve` (in-process, real port) with an admin and a client token. */
export interface FlagServer {
  /** Base URL, e.g. `http://127.0.0.1:43121`. */
  url: string;
  port: number;
  /** Admin token (`/api/admin`). */
  adminToken: string;
  /** Client token of environment `production`. */
  clientToken: string;
  /** Calls the admin API; throws on a non-2xx answer. */
  admin(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<unknown>;
  /** Stops the server (graceful: streams end). */
  stop(): Promise<void>;
  /** Starts it again on the same port and database. */
  start(): Promise<void>;
}

/**
 * Starts `cutover serve` on `databaseUrl` (schema `cutover` created if needed)
 * on a free port, and creates an admin token and a `production` client token.
 * Used by the SDK tests and `npm run bench:propagation`.
 */
export async function startFlagServer(
  databaseUrl: string,
  options: Omit<StartServerOptions, 'databaseUrl'> = {},
): Promise<FlagServer> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  let adminToken: string;
  let clientToken: string;
  try {
    await ensureControlSchema(pool);
    const suffix = Math.random().toString(36).slice(2, 8);
    adminToken = await createTestToken(pool, `sdk-admin-${suffix}`);
    clientToken = await createTestToken(pool, `sdk-client-${suffix}`, 'production');
  } finally {
    await pool.end();
  }
  let running: RunningServer | undefined = await startServer({
    ...options,
    databaseUrl,
    port: options.port ?? 0,
  });
  const port = running.port;
  const url = running.url;
  return {
    url,
    port,
    adminToken,
    clientToken,
    async admin(method, path, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: adminToken,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
      return text === '' ? undefined : (JSON.parse(text) as unknown);
    },
    async stop() {
      await running?.close();
      running = undefined;
    },
    async start() {
      if (running !== undefined) return;
      running = await startServer({ ...options, databaseUrl, port });
    },
  };
}

/**
 * Creates an API token named `name` on `pool` (actor `test`; the control
 * schema must exist) and returns its secret: an admin token, or with
 * `environment` a client token of that environment.
 */
export async function createTestToken(
  pool: pg.Pool,
  name: string,
  environment?: string,
): Promise<string> {
  const created = await createTokenStore(pool).create(
    environment === undefined ? { name, type: 'admin' } : { name, type: 'client', environment },
    { actor: 'test' },
  );
  return created.token;
}

/** A flag defined in `production` with a flexibleRollout at `rollout` % and optional variants. */
export function rolloutFlag(key: string, rollout: number, extra: Partial<Flag> = {}): Flag {
  return {
    key,
    description: `SDK test flag ${key}`,
    tags: { category: 'test' },
    ...extra,
    environments: {
      production: {
        enabled: true,
        strategies: [
          {
            name: 'flexibleRollout',
            parameters: { rollout: String(rollout), stickiness: 'default', groupId: key },
            constraints: [],
          },
        ],
      },
      ...extra.environments,
    },
  };
}
