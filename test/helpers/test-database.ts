import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** A fresh database on the test server, owned by one test file. */
export interface TestDatabase {
  /** Connection URL of the fresh database. */
  url: string;
  /** Database name. */
  name: string;
  /** A pool on it for assertions (max 4). */
  pool: pg.Pool;
  /** Ends `pool` (e.g. before using the database as a template); idempotent. */
  closePool(): Promise<void>;
  /** Closes the pool and drops the database (WITH (FORCE)). */
  drop(): Promise<void>;
}

/**
 * Creates a fresh, empty database on the test server (real PostgreSQL; see
 * `test/global-setup.ts`). Call in `beforeAll` and `drop()` in `afterAll`.
 *
 * With `template`, the new database is a copy of that database (`CREATE
 * DATABASE … TEMPLATE`, a fast file copy): nobody may be connected to the
 * template meanwhile (end its pool first with `closePool()`).
 */
export async function createTestDatabase(
  prefix = 't',
  options: { template?: string } = {},
): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `cutover_${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(
      `create database ${name}${options.template === undefined ? '' : ` template ${options.template}`}`,
    );
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  pool.on('error', () => undefined);
  let ended = false;
  const closePool = async (): Promise<void> => {
    if (ended) return;
    ended = true;
    await pool.end();
  };
  return {
    url: url.toString(),
    name,
    pool,
    closePool,
    async drop() {
      await closePool();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
