import type pg from 'pg';

/**
 * Runs `fn` in one transaction on a client of `pool`: `begin`, then `commit`
 * when `fn` resolves, or `rollback` (a failing rollback is ignored) and
 * `fn`'s error rethrown when it throws. The client is released either way.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
