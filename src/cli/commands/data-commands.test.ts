import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/test-database.js';
import { takeSnapshot } from '../../data/index.js';

const run = promisify(execFile);
const main = join(import.meta.dirname, '..', 'main.ts');
const tsx = join(import.meta.dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');

let db: TestDatabase;
let cwd: string;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, [main, ...args], {
      cwd,
      env: { ...process.env, DATABASE_URL: db.url },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  db = await createTestDatabase('clidata');
  cwd = await mkdtemp(join(tmpdir(), 'cutover-cli-data-'));
  await db.pool.query(`
    create table items (id int primary key, name text not null);
    insert into items select g, 'item ' || g from generate_series(1, 100) g;
  `);
});
afterAll(async () => {
  await db.drop();
  await rm(cwd, { recursive: true, force: true });
});

describe('cutover snapshot', () => {
  it('lists, restores (with --yes) and drops snapshots', async () => {
    const snap = await takeSnapshot(db.pool, {
      tables: ['items'],
      runId: 'cli-run-0001',
      stepId: 'prepare.0',
    });
    const list = await cli(['snapshot', 'list', '--json']);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as { snapshots: { id: string }[] };
    expect(listed.snapshots.map((s) => s.id)).toEqual([snap.id]);
    const table = await cli(['snapshot', 'list']);
    expect(table.stdout).toContain('public.items (100)');

    await db.pool.query(`delete from items where id > 10`);
    const refused = await cli(['snapshot', 'restore', snap.id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('CONFIRMATION_REQUIRED');
    const restored = await cli(['snapshot', 'restore', snap.id, '--yes']);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain('Restored public.items: 100 rows');

    const missing = await cli(['snapshot', 'drop', 'nope', '--yes', '--json']);
    expect(missing.code).toBe(6);
    expect(JSON.parse(missing.stdout)).toMatchObject({
      ok: false,
      error: { code: 'SNAPSHOT_NOT_FOUND' },
    });
    const dropped = await cli(['snapshot', 'drop', snap.id, '--yes']);
    expect(dropped.code).toBe(0);
    expect(JSON.parse((await cli(['snapshot', 'list', '--json'])).stdout)).toEqual({
      ok: true,
      snapshots: [],
    });
  });
});

describe('cutover backup', () => {
  it('creates, lists and restores backups', async () => {
    const created = await cli(['backup', 'create', '--json']);
    expect(created.code).toBe(0);
    const name = (JSON.parse(created.stdout) as { backup: { name: string } }).backup.name;
    const list = await cli(['backup', 'list', '--json']);
    expect(
      (JSON.parse(list.stdout) as { backups: { name: string }[] }).backups.map((b) => b.name),
    ).toEqual([name]);
    await db.pool.query(`update items set name = 'changed'`);
    const restored = await cli(['backup', 'restore', name, '--yes']);
    expect(restored.code).toBe(0);
    const { rows } = await db.pool.query(
      `select count(*)::int as n from items where name = 'changed'`,
    );
    expect(rows).toEqual([{ n: 0 }]);
    const missing = await cli(['backup', 'restore', 'no-such.dump', '--yes']);
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain('BACKUP_NOT_FOUND');
  });
});
