import pg from 'pg';
import { parseDatabaseUrl, redactDatabaseUrl, toConnectionError } from '../db/index.js';
import { FLAG_CHANNEL, type FlagNotification } from './flag-store.js';

/** Callbacks of {@link listenForFlagChanges}. */
export interface FlagChangeHandlers {
  /** A committed change was announced on `cutover_flags`. */
  onNotification(notification: FlagNotification): void;
  /**
   * The listening connection was lost and is back: notifications may have
   * been missed in between, so treat everything as changed.
   */
  onReconnect?(): void;
  /** The listening connection was lost (it reconnects by itself). */
  onDisconnect?(error: unknown): void;
}

/** Options of {@link listenForFlagChanges}. */
export interface FlagChangeListenerOptions {
  /** First reconnection delay in ms, doubled up to `maxReconnectDelayMs`. Default 100. */
  reconnectDelayMs?: number;
  /** Longest reconnection delay in ms. Default 5 000. */
  maxReconnectDelayMs?: number;
  /** `application_name` of the listening connection. Default `cutover-listen`. */
  applicationName?: string;
}

/** A running listener; see {@link listenForFlagChanges}. */
export interface FlagChangeListener {
  /** True while the LISTEN connection is up (notifications are being received). */
  readonly connected: boolean;
  /** Stops listening and closes the connection. */
  close(): Promise<void>;
}

/**
 * Listens on channel `cutover_flags` (PostgreSQL LISTEN/NOTIFY) with one
 * dedicated connection and calls `handlers.onNotification` for every flag or
 * token change committed by any process on the database — this is how
 * several `cutover serve` replicas fan a change out. When the connection is
 * lost it reconnects with exponential backoff and calls `onReconnect` (some
 * notifications may have been missed). Unparseable messages are ignored.
 *
 * @throws CutoverError `DATABASE_URL_INVALID` (config), `DATABASE_UNREACHABLE`
 *   (unavailable) when the first connection fails.
 */
export async function listenForFlagChanges(
  databaseUrl: string,
  handlers: FlagChangeHandlers,
  options: FlagChangeListenerOptions = {},
): Promise<FlagChangeListener> {
  parseDatabaseUrl(databaseUrl);
  const firstDelay = options.reconnectDelayMs ?? 100;
  const maxDelay = options.maxReconnectDelayMs ?? 5_000;
  let client: pg.Client | undefined;
  let closed = false;
  let connected = false;
  let timer: NodeJS.Timeout | undefined;

  const open = async (): Promise<void> => {
    const next = new pg.Client({
      connectionString: databaseUrl,
      application_name: options.applicationName ?? 'cutover-listen',
      keepAlive: true,
    });
    next.on('notification', (message) => {
      if (message.channel !== FLAG_CHANNEL || message.payload === undefined) return;
      const notification = parseNotification(message.payload);
      if (notification !== undefined) handlers.onNotification(notification);
    });
    next.on('error', (error) => lost(next, error));
    next.on('end', () => lost(next, new Error('connection ended')));
    try {
      await next.connect();
      await next.query(`listen ${FLAG_CHANNEL}`);
    } catch (error) {
      next.removeAllListeners('end');
      await next.end().catch(() => undefined);
      throw toConnectionError(error, redactDatabaseUrl(databaseUrl));
    }
    client = next;
    connected = true;
  };

  const lost = (which: pg.Client, error: unknown): void => {
    if (closed || which !== client || !connected) return;
    connected = false;
    client = undefined;
    which.removeAllListeners('end');
    which.end().catch(() => undefined);
    handlers.onDisconnect?.(error);
    schedule(firstDelay);
  };

  const schedule = (delay: number): void => {
    timer = setTimeout(() => {
      timer = undefined;
      if (closed) return;
      open().then(
        () => {
          if (closed) {
            void client?.end().catch(() => undefined);
            return;
          }
          handlers.onReconnect?.();
        },
        () => schedule(Math.min(delay * 2, maxDelay)),
      );
    }, delay);
  };

  await open();

  return {
    get connected() {
      return connected;
    },
    async close() {
      closed = true;
      connected = false;
      if (timer !== undefined) clearTimeout(timer);
      const current = client;
      client = undefined;
      if (current !== undefined) {
        current.removeAllListeners('end');
        await current.end().catch(() => undefined);
      }
    },
  };
}

/** Parses a `cutover_flags` payload; undefined when it is not one of ours. */
export function parseNotification(payload: string): FlagNotification | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.type === 'tokens') return { type: 'tokens' };
  if (record.type !== 'flags' || typeof record.revision !== 'number') return undefined;
  const environments = record.environments;
  if (environments === null)
    return { type: 'flags', revision: record.revision, environments: null };
  if (typeof environments !== 'object' || environments === undefined) return undefined;
  const parsed: Record<string, number> = {};
  for (const [env, revision] of Object.entries(environments as Record<string, unknown>)) {
    if (typeof revision === 'number') parsed[env] = revision;
  }
  return { type: 'flags', revision: record.revision, environments: parsed };
}
