import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { connect } from '../db/index.js';
import { createClientReportStore } from '../flags/client-report-store.js';
import { listenForFlagChanges, type FlagChangeListener } from '../flags/flag-change-listener.js';
import { createFlagStore } from '../flags/flag-store.js';
import { ensureControlSchema } from '../store/index.js';
import { authenticate } from './auth.js';
import { trackConnections } from './connection-tracker.js';
import { FlagFeed } from './flag-feed.js';
import { installErrorHandler } from './http-errors.js';
import { registerAdminRoutes } from './routes/admin-routes.js';
import { registerClientRoutes } from './routes/client-routes.js';
import type { ServerContext } from './server-context.js';
import { TokenCache } from './token-cache.js';
import { createTokenStore } from './token-store.js';
import { installValidation } from './validation.js';

/** Options of {@link buildServer}. */
export interface ServerOptions {
  /** PostgreSQL URL of the database holding schema `cutover` (created/migrated on start). */
  databaseUrl: string;
  /** Size of the connection pool (plus one connection for LISTEN). Default 10. */
  poolSize?: number;
  /** Fastify's logger option (`true`, a pino options object). Default false: the library prints nothing. */
  logger?: FastifyServerOptions['logger'];
  /** Interval of the stream's keep-alive comments (`: ping`), in ms. Default 15 000. */
  heartbeatMs?: number;
  /** The `retry:` field sent to stream clients (their reconnection delay), in ms. Default 1 000. */
  retryMs?: number;
  /** Coalescing delay between a change notification and the push to stream clients, in ms. Default 2. */
  debounceMs?: number;
  /**
   * Graceful shutdown (`app.close()`): how long in-flight requests may take
   * before their connections are closed anyway, in ms. Default 10 000.
   */
  shutdownTimeoutMs?: number;
  /** Clock for recorded times. Default `() => new Date()`. */
  now?: () => Date;
}

/**
 * Builds the `cutover serve` HTTP app (Fastify 5), ready to `listen()` or to
 * test with `app.inject()`: connects to the database, creates/migrates the
 * control schema, loads the active tokens, and starts listening on channel
 * `cutover_flags` so changes made by any process (another replica, the CLI,
 * a plan run) reach this server's cache and stream clients.
 *
 * Endpoints (see the README, "Flag server"): `GET /health`;
 * Unleash client API `GET /api/client/features` (ETag/304),
 * `POST /api/client/register`, `POST /api/client/metrics`; the stream
 * `GET /api/client/stream` (SSE); the admin API under `/api/admin/`.
 *
 * `app.close()` ends the stream connections, stops listening and closes the
 * pool (graceful shutdown: in-flight requests finish first).
 *
 * @throws CutoverError `DATABASE_URL_INVALID` (config), `DATABASE_UNREACHABLE`
 *   (unavailable), `CONTROL_SCHEMA_FAILED` (failed).
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const pool = await connect(options.databaseUrl, {
    applicationName: 'cutover-serve',
    max: options.poolSize ?? 10,
  });
  let listener: FlagChangeListener | undefined;
  try {
    await ensureControlSchema(pool);
    const now = options.now ?? (() => new Date());
    const flags = createFlagStore(pool, { now });
    const tokens = createTokenStore(pool, { now });
    const listening = (): boolean => listener?.connected === true;
    const tokenCache = new TokenCache(tokens, listening);
    const app = Fastify({ logger: options.logger ?? false, return503OnClosing: true });
    const feed = new FlagFeed(flags, {
      debounceMs: options.debounceMs,
      listening,
      onError: (error) => app.log.warn({ err: error }, 'flag stream push failed; retrying'),
    });
    listener = await listenForFlagChanges(options.databaseUrl, {
      onNotification(notification) {
        if (notification.type === 'tokens') tokenCache.invalidate();
        else feed.notify(notification);
      },
      onReconnect() {
        app.log.info('listening on cutover_flags again');
        tokenCache.invalidate();
        feed.invalidate();
      },
      onDisconnect(error) {
        app.log.warn(
          { err: error },
          'lost the LISTEN connection; reading flags from the database until it is back',
        );
      },
    });
    const activeListener = listener;
    const ctx: ServerContext = {
      flags,
      tokens,
      reports: createClientReportStore(pool, { now }),
      feed,
      async authenticate(request, required) {
        return authenticate(request, await tokenCache.get(), required, () => tokenCache.reload());
      },
      options: { heartbeatMs: options.heartbeatMs ?? 15_000, retryMs: options.retryMs ?? 1_000 },
    };
    installValidation(app);
    installErrorHandler(app);
    app.get('/health', async () => {
      const snapshot = await flags.snapshot();
      return {
        ok: true,
        revision: snapshot.revision,
        listening: activeListener.connected,
        streams: feed.subscriberCount,
      };
    });
    registerClientRoutes(app, ctx);
    registerAdminRoutes(app, ctx);
    const connections = trackConnections(app.server);
    app.addHook('preClose', (done) => {
      feed.close();
      connections.drain(options.shutdownTimeoutMs ?? 10_000);
      done();
    });
    app.addHook('onClose', async () => {
      await activeListener.close();
      await pool.end();
    });
    return app;
  } catch (error) {
    await listener?.close();
    await pool.end().catch(() => undefined);
    throw error;
  }
}
