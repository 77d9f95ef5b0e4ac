import pg from 'pg';
import { parseDatabaseUrl, redactDatabaseUrl } from './database-url.js';
import { toConnectionError } from './pg-error.js';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** `application_name` reported in `pg_stat_activity`. Default `cutover`. */
  applicationName?: string;
  /** Maximum pool size. Default 4. */
  max?: number;
  /** Connection timeout in ms. Default 10 000. */
  connectionTimeoutMs?: number;
}

/**
 * Opens a `pg.Pool` on `url` and checks it with one round trip, so a bad URL
 * or a dead server fails here with one clear error instead of later.
 *
 * @throws CutoverError `DATABASE_URL_INVALID` (config) or `DATABASE_UNREACHABLE` (unavailable).
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<pg.Pool> {
  parseDatabaseUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    application_name: options.applicationName ?? 'cutover',
    max: options.max ?? 4,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  try {
    await pool.query('select 1');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw toConnectionError(error, redactDatabaseUrl(url));
  }
  return pool;
}
