import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/cli-process.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

/** `npm start` (scripts/start.ts) on a test database given as DATABASE_URL, in a temporary --dir. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function start(
  db: TestDatabase,
  dir: string,
  ...args: string[]
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', TSX, join(REPO_ROOT, 'scripts', 'start.ts'), '--dir', dir, ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, DATABASE_URL: db.url, NODE_OPTIONS: '', FORCE_COLOR: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('close', (code) => resolve({ code, out }));
  });
}

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('start');
  dir = await mkdtemp(join(tmpdir(), 'cutover-start-'));
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('generates the data, runs the example plan with --yes and prints a summary; a second start resets and runs it again', async () => {
    const first = await start(db, dir, '--users', '300');
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain("Data: generated 300 users' dashboards");
    for (const step of ['prepare.0', 'prepare.1', 'expand.0', 'expand.1', 'expand.2']) {
      expect(first.out).toMatch(
        new RegExp(`✓ ${step.replace('.', '\\.')} +\\w+ +[\\d.]+ s {2}\\S`),
      );
    }
    expect(first.out).toMatch(/✓ contract\.0 +migrate .*the point of no return/);
    expect(first.out).toMatch(/✓ rollout\.4 +flag .*rollout 50% → 100% — version 3/);
    expect(first.out).toMatch(
      /300 legacy documents backfilled in \d+ batch(es)? → 300 dashboard_configurations rows, [\d,]+ dashboard_widgets rows/,
    );
    expect(first.out).toContain('Verification report (step expand.2): passed');
    expect(first.out).toContain('✓ widgets match the documented rules (checksums) [critical]');
    expect(first.out).toContain('Refused: phase contract is irreversible');
    expect(first.out).toMatch(
      /backup restore \S+-prepare\.1\.dump --no-clean --yes --database-url <empty database>/,
    );
    const { rows } = await db.pool.query<{ legacy: string | null; configs: number }>(
      `select to_regclass('legacy_dashboard_configs')::text as legacy,
              (select count(*)::int from dashboard_configurations) as configs`,
    );
    expect(rows[0]).toEqual({ legacy: null, configs: 300 });

    const second = await start(db, dir, '--users', '300', '--phase', 'rollout');
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(
      /Reset: run [0-9a-f]{8} of an earlier npm start is completed and dropped the legacy table/,
    );
    expect(second.out).toContain("Data: generated 300 users' dashboards");
    expect(second.out).toMatch(/paused in/);
    expect(second.out).toMatch(
      /Undo it \(with DATABASE_URL set as now\): .* rollback [0-9a-f]{8} --yes/,
    );
    const runs = await db.pool.query<{ n: number }>('select count(*)::int as n from cutover.runs');
    expect(runs.rows[0]?.n).toBe(1);
    // The reset removed the first run's backup with it.
    const backups = (await readdir(join(dir, '.cutover', 'backups'))).filter((f) =>
      f.endsWith('.dump'),
    );
    expect(backups).toHaveLength(1);
  });

  it('refuses a DATABASE_URL database that holds anything else, changing nothing', async () => {
    const other = await createTestDatabase('startother');
    try {
      await other.pool.query('create table invoices (id int primary key)');
      const result = await start(other, dir, '--users', '10');
      expect(result.code).toBe(1);
      expect(result.out).toContain('holds more than the dashboard-v2 example (table invoices)');
      const { rows } = await other.pool.query<{ n: number }>(
        `select count(*)::int as n from pg_tables where schemaname = 'public'`,
      );
      expect(rows[0]?.n).toBe(1);
    } finally {
      await other.drop();
    }
  });
});
