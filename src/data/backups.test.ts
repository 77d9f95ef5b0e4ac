import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { createBackup, listBackups, restoreBackup, tocLineInSchemas } from './backups.js';
import { findPgTools } from './pg-tools.js';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('backup');
  dir = await mkdtemp(join(tmpdir(), 'cutover-backups-'));
  await db.pool.query(`
    create table orders (id bigserial primary key, total numeric not null, note text);
    insert into orders (total, note) select g * 1.5, 'order ' || g from generate_series(1, 500) g;
    create schema cutover;
    create table cutover.events (id bigserial primary key, type text not null);
    insert into cutover.events (type) values ('run.started');
  `);
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('backups', () => {
  it('dumps with pg_dump --format=custom, verifies the archive, lists it and restores it', async () => {
    const backup = await createBackup({
      databaseUrl: db.url,
      dir,
      runId: 'run-1',
      stepId: 'prepare.1',
    });
    expect(backup.name).toMatch(/^\d{8}T\d{6}Z-cutover_backup_[0-9a-f]+-run-1-prepare\.1\.dump$/);
    expect(backup.entries).toBeGreaterThan(5);
    expect(backup.bytes).toBeGreaterThan(0);
    expect(backup.pgDumpVersion).toMatch(/^\d+\.\d+$/);

    const listed = await listBackups({ dir });
    expect(listed.map((b) => b.name)).toEqual([backup.name]);
    expect(listed[0]).toMatchObject({ runId: 'run-1', stepId: 'prepare.1', database: db.name });

    // Resume: the same run and step returns the existing backup.
    const again = await createBackup({
      databaseUrl: db.url,
      dir,
      runId: 'run-1',
      stepId: 'prepare.1',
    });
    expect(again.file).toBe(backup.file);
    expect(await listBackups({ dir })).toHaveLength(1);

    await db.pool.query(`
      delete from orders where id > 250;
      update orders set note = 'changed';
      insert into cutover.events (type) values ('run.finished');
    `);
    const result = await restoreBackup({ databaseUrl: db.url, backup: backup.name, dir });
    expect(result.skipped).toBeGreaterThan(0);
    const { rows } = await db.pool.query<{ n: number; changed: number }>(
      `select count(*)::int as n, count(*) filter (where note = 'changed')::int as changed from orders`,
    );
    expect(rows[0]).toEqual({ n: 500, changed: 0 });
    // cutover's own schema is not rewound: the audit log keeps the later event.
    const { rows: events } = await db.pool.query('select type from cutover.events order by id');
    expect(events.map((e: { type: string }) => e.type)).toEqual(['run.started', 'run.finished']);
  });

  it('a retry after a crash removes the partial dump (and orphan sidecar) the crashed attempt left', async () => {
    const own = await mkdtemp(join(tmpdir(), 'cutover-backups-crash-'));
    try {
      const crashed = join(own, `20240101T000000Z-${db.name}-run-2-prepare.1.dump`);
      await writeFile(`${crashed}.partial`, 'half a dump');
      await writeFile(`${crashed}.json`, '{}'); // written just before a rename that never happened
      const other = join(own, `20240101T000000Z-${db.name}-run-3-prepare.1.dump.partial`);
      await writeFile(other, 'another run in flight');
      const backup = await createBackup({
        databaseUrl: db.url,
        dir: own,
        runId: 'run-2',
        stepId: 'prepare.1',
      });
      expect((await readdir(own)).sort()).toEqual(
        [backup.name, `${backup.name}.json`, other.slice(own.length + 1)].sort(),
      );
      expect((await listBackups({ dir: own })).map((b) => [b.name, b.runId])).toEqual([
        [backup.name, 'run-2'],
      ]);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('says clearly when pg_dump is missing from every searched directory', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'cutover-nopg-'));
    try {
      await expect(findPgTools({ searchDirs: [empty] })).rejects.toMatchObject({
        code: 'PG_DUMP_NOT_FOUND',
        category: 'unavailable',
        hint: expect.stringContaining('Install the PostgreSQL client tools') as unknown,
      });
      await expect(
        createBackup({ databaseUrl: db.url, dir, tools: { searchDirs: [empty] } }),
      ).rejects.toMatchObject({ code: 'PG_DUMP_NOT_FOUND' });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('refuses a pg_dump older than the server', async () => {
    const fake = await mkdtemp(join(tmpdir(), 'cutover-oldpg-'));
    try {
      for (const tool of ['pg_dump', 'pg_restore']) {
        await writeFile(join(fake, tool), '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n');
        await chmod(join(fake, tool), 0o755);
      }
      await expect(
        createBackup({ databaseUrl: db.url, dir, tools: { searchDirs: [fake] } }),
      ).rejects.toMatchObject({
        code: 'PG_DUMP_TOO_OLD',
        category: 'unavailable',
        message: expect.stringContaining('pg_dump 9.6') as unknown,
      });
    } finally {
      await rm(fake, { recursive: true, force: true });
    }
  });

  it('picks the highest pg_dump version among the search directories', async () => {
    const tools = await findPgTools();
    expect(tools.version.major).toBeGreaterThanOrEqual(15);
  });

  it('recognizes table-of-contents entries of cutover schemas', () => {
    const excluded = ['cutover', 'cutover_snapshots'];
    expect(tocLineInSchemas('215; 2615 16385 SCHEMA - cutover postgres', excluded)).toBe(true);
    expect(tocLineInSchemas('3350; 0 16390 TABLE DATA cutover events postgres', excluded)).toBe(
      true,
    );
    expect(tocLineInSchemas('3351; 0 0 ACL - SCHEMA cutover postgres', excluded)).toBe(true);
    expect(tocLineInSchemas('3352; 0 16390 TABLE DATA public orders postgres', excluded)).toBe(
      false,
    );
    expect(tocLineInSchemas('216; 2615 2200 SCHEMA - public postgres', excluded)).toBe(false);
  });
});
