import type pg from 'pg';

/**
 * Runs `fn` on `client` so that aborting `signal` cancels the statement in
 * flight (`pg_cancel_backend` from another pool connection) and rejects with
 * the signal's reason. Without a signal, just runs `fn`.
 *
 * Throws the signal's reason at once when it is already aborted.
 */
export async function runCancellable<T>(
  pool: pg.Pool,
  client: pg.PoolClient,
  signal: AbortSignal | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  if (signal === undefined) return fn();
  signal.throwIfAborted();
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  const pid = rows[0]?.pid;
  const onAbort = () => {
    if (pid !== undefined) {
      pool.query('select pg_cancel_backend($1)', [pid]).catch(() => undefined);
    }
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn();
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
