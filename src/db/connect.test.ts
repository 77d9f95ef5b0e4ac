import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { isCutoverError } from '../errors/index.js';
import { connect } from './connect.js';

describe('connect', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('opens a pool on a real server', async () => {
    const pool = await connect(db.url);
    const { rows } = await pool.query<{ db: string }>('select current_database() as db');
    expect(rows[0]?.db).toBe(db.name);
    await pool.end();
  });

  it('reports a dead server as DATABASE_UNREACHABLE without the password', async () => {
    const error: unknown = await connect('postgres://u:secret@127.0.0.1:1/x').catch(
      (e: unknown) => e,
    );
    expect(isCutoverError(error) && error.code).toBe('DATABASE_UNREACHABLE');
    expect(String((error as Error).message)).not.toContain('secret');
  });

  it('rejects a URL that is not postgres:// as DATABASE_URL_INVALID', async () => {
    const error: unknown = await connect('mysql://localhost/x').catch((e: unknown) => e);
    expect(isCutoverError(error) && error.code).toBe('DATABASE_URL_INVALID');
  });
});
