import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { isCutoverError } from '../errors/index.js';
import { exitCodeFor } from './exit-codes.js';
import { classifyError } from './run-command.js';

// Errors that escape a command as plain Errors (from pg) still get a
// documented code and exit code, never `INTERNAL`.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('classify');
});
afterAll(async () => {
  await db.drop();
});

async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('classifyError', () => {
  it('maps a refused connection to DATABASE_UNREACHABLE (exit 5)', async () => {
    const client = new pg.Client({ connectionString: 'postgres://u@127.0.0.1:1/db' });
    const raw = await errorOf(() => client.connect());
    const error = classifyError(raw);
    expect(isCutoverError(error)).toBe(true);
    if (!isCutoverError(error)) return;
    expect(error.code).toBe('DATABASE_UNREACHABLE');
    expect(exitCodeFor(error.category)).toBe(5);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.hint).toContain('cutover resume');
  });

  it('maps a connection terminated by the server (SQLSTATE 57P01) to DATABASE_UNREACHABLE', async () => {
    const client = new pg.Client({ connectionString: db.url });
    client.on('error', () => undefined);
    await client.connect();
    const raw = await errorOf(() => client.query('select pg_terminate_backend(pg_backend_pid())'));
    await client.end().catch(() => undefined);
    const error = classifyError(raw);
    expect(isCutoverError(error) && error.code).toBe('DATABASE_UNREACHABLE');
  });

  it('maps any other server error to DATABASE_ERROR with its SQLSTATE (exit 1)', async () => {
    const raw = await errorOf(() => db.pool.query('select 1 / 0'));
    const error = classifyError(raw);
    expect(isCutoverError(error)).toBe(true);
    if (!isCutoverError(error)) return;
    expect(error.code).toBe('DATABASE_ERROR');
    expect(error.message).toBe(
      'The database reported an error: division by zero (SQLSTATE 22012).',
    );
    expect(exitCodeFor(error.category)).toBe(1);
  });

  it('leaves other errors alone', () => {
    const plain = new Error('something else');
    expect(classifyError(plain)).toBe(plain);
    expect(classifyError({ foo: 1 })).toEqual({ foo: 1 });
  });
});
