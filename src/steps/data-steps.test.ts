import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { parsePlanSource } from '../plan/index.js';
import { Runner } from '../runner/index.js';
import { ControlStore, ensureControlSchema } from '../store/index.js';
import { dataStepKinds } from './data-step-kinds.js';
import { defaultStepKinds } from './default-step-kinds.js';
import { createStepKindRegistry } from './step-kind-registry.js';

let db: TestDatabase;
let dir: string;

const registry = createStepKindRegistry([...defaultStepKinds(), ...dataStepKinds()]);

function runner(): Runner {
  return new Runner({
    pool: db.pool,
    databaseUrl: db.url,
    registry,
    stateDir: join(dir, '.cutover'),
    leaseTtlMs: 5_000,
    actor: 'test',
  });
}

function plan(yaml: string) {
  return parsePlanSource(yaml, { registry, dir, env: {} });
}

async function checksum(table: string): Promise<string> {
  const { rows } = await db.pool.query<{ sum: string }>(
    `select coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as sum from ${table} t`,
  );
  return rows[0]?.sum ?? '';
}

beforeAll(async () => {
  db = await createTestDatabase('datasteps');
  dir = await mkdtemp(join(tmpdir(), 'cutover-datasteps-'));
  await ensureControlSchema(db.pool);
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await db.pool.query(`
    drop table if exists orders;
    create table orders (id bigint primary key, total numeric not null, total_cents bigint, touched int not null default 0);
    insert into orders select g, g * 1.25, null, 0 from generate_series(1, 3000) g;
    analyze orders;
  `);
});

describe('data step kinds under the runner', () => {
  it('snapshot, backup, inline backfill and verify run; rollback restores the table from the snapshot', async () => {
    const before = await checksum('orders');
    const r = runner();
    const result = await r.start(
      plan(`
name: inline-backfill
phases:
  - name: prepare
    steps:
      - snapshot: { tables: [orders] }
      - backup: {}
  - name: change
    steps:
      - backfill: { table: orders, set: "total_cents = (total * 100)::bigint, touched = touched + 1", where: "total_cents is null", batchSize: 100 }
      - verify:
          - sql: select count(*) = 0 from orders where total_cents is null
          - counts: { source: orders, target: "select * from orders where total_cents = total * 100" }
          - name: nothing touched twice
            sql: select id from orders where touched <> 1
`),
    );
    expect(result.outcome).toBe('completed');
    const backfill = result.steps.find((s) => s.kind === 'backfill');
    expect(backfill?.output).toMatchObject({ table: 'public.orders', rows: 3000, written: 3000 });
    expect((backfill?.output as { coveringSnapshot?: string }).coveringSnapshot).toBeDefined();
    const verify = result.steps.find((s) => s.kind === 'verify');
    expect(verify?.output).toMatchObject({ passed: true, critical: [], warnings: [] });
    const backup = result.steps.find((s) => s.kind === 'backup');
    expect((backup?.output as { file: string }).file).toContain(join(dir, '.cutover', 'backups'));

    const rolledBack = await r.rollback(result.run.id);
    expect(rolledBack.outcome).toBe('rolled_back');
    expect(await checksum('orders')).toBe(before);
    const events = await new ControlStore(db.pool).listEvents(result.run.id);
    const types = events.map((e: { type: string }) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'snapshot.taken',
        'backup.created',
        'backfill.finished',
        'verify.report',
        'backfill.restored',
        'snapshot.restored',
      ]),
    );
  });

  it('fails the step on a critical verification failure and rolls back, the report in the error', async () => {
    const before = await checksum('orders');
    const result = await runner().start(
      plan(`
name: failing-verify
phases:
  - name: change
    steps:
      - snapshot: { tables: [orders] }
      - backfill: { table: orders, set: { total_cents: "(total * 10)::bigint" } }
      - verify:
          - name: cents are right
            compare:
              source: select id, (total * 100)::bigint as cents from orders
              target: select id, total_cents as cents from orders
              key: id
              chunkSize: 500
          - name: a warning only
            severity: warning
            sql: select false
`),
    );
    expect(result.outcome).toBe('rolled_back');
    expect(result.rolledBackAfterFailure).toBe(true);
    const verify = result.steps.find((s) => s.kind === 'verify');
    expect(verify?.error?.code).toBe('VERIFICATION_FAILED');
    const report = (
      verify?.error?.details as {
        report: { critical: { name: string; differences: unknown[] }[]; warnings: unknown[] };
      }
    ).report;
    expect(report.critical[0]?.name).toBe('cents are right');
    expect(report.critical[0]?.differences).toHaveLength(20);
    expect(report.warnings).toHaveLength(1);
    expect(await checksum('orders')).toBe(before);
  });

  it('refuses to roll back an inline backfill no snapshot covers, before changing anything', async () => {
    const r = runner();
    const result = await r.start(
      plan(`
name: uncovered
phases:
  - name: change
    steps:
      - sql: { up: "create table side (id int)", down: "drop table side" }
      - backfill: { table: orders, set: "touched = touched + 1" }
`),
    );
    expect(result.outcome).toBe('completed');
    await expect(r.rollback(result.run.id)).rejects.toMatchObject({
      code: 'COMPENSATION_IMPOSSIBLE',
      category: 'refused',
    });
    const { rows } = await db.pool.query(`select to_regclass('side') is not null as exists`);
    expect(rows).toEqual([{ exists: true }]);
  });

  it('stops a module backfill between batches and resumes without processing a row twice; rollback runs revert', async () => {
    await writeFile(
      join(dir, 'touch-orders.ts'),
      `export default {
         table: 'orders',
         key: 'id',
         columns: ['id'],
         async transform(rows: { id: string }[], { client }: { client: { query(sql: string, values: unknown[]): Promise<unknown> } }) {
           await client.query('update orders set touched = touched + 1 where id = any($1)', [rows.map((r) => r.id)]);
         },
         async revert(rows: { id: string }[], { client }: { client: { query(sql: string, values: unknown[]): Promise<unknown> } }) {
           await client.query('update orders set touched = 0 where id = any($1)', [rows.map((r) => r.id)]);
         },
       };`,
    );
    const controller = new AbortController();
    const r = new Runner({
      pool: db.pool,
      databaseUrl: db.url,
      registry,
      stateDir: join(dir, '.cutover'),
      actor: 'test',
      onProgress: (_step, progress) => {
        if (progress.unit === 'rows' && progress.done >= 1000) controller.abort();
      },
    });
    const p = plan(`
name: module-backfill
phases:
  - name: change
    steps:
      - backfill: { module: ./touch-orders.ts, batchSize: 200, targetBatchMs: 0 }
`);
    const first = await r.start(p, { signal: controller.signal });
    expect(first.outcome).toBe('stopped');
    const { rows: partial } = await db.pool.query<{ n: number }>(
      'select count(*)::int as n from orders where touched = 1',
    );
    expect(partial[0]?.n).toBeGreaterThanOrEqual(1000);
    expect(partial[0]?.n).toBeLessThan(3000);

    const resumed = await r.resume(first.run.id);
    expect(resumed.outcome).toBe('completed');
    const { rows } = await db.pool.query(
      'select touched, count(*)::int as n from orders group by touched',
    );
    expect(rows).toEqual([{ touched: 1, n: 3000 }]);

    const rolledBack = await r.rollback(first.run.id);
    expect(rolledBack.outcome).toBe('rolled_back');
    const { rows: after } = await db.pool.query(
      'select touched, count(*)::int as n from orders group by touched',
    );
    expect(after).toEqual([{ touched: 0, n: 3000 }]);
  });

  it('fails a backup step clearly when pg_dump is missing', async () => {
    const noTools = createStepKindRegistry([
      ...defaultStepKinds(),
      ...dataStepKinds({ backup: { tools: { searchDirs: [join(dir, 'no-such-dir')] } } }),
    ]);
    const result = await new Runner({
      pool: db.pool,
      databaseUrl: db.url,
      registry: noTools,
      stateDir: join(dir, '.cutover'),
      actor: 'test',
    }).start(
      parsePlanSource(
        `
name: no-pg-dump
onFailure: pause
phases:
  - name: prepare
    steps:
      - backup: {}
`,
        { registry: noTools, dir, env: {} },
      ),
    );
    expect(result.outcome).toBe('failed');
    expect(result.steps[0]?.error).toMatchObject({
      code: 'PG_DUMP_NOT_FOUND',
      category: 'unavailable',
    });
    await runner().rollback(result.run.id);
  });

  it('rejects bad backfill and verify specs with their paths', () => {
    let error: unknown;
    try {
      plan(`
name: bad
phases:
  - name: change
    steps:
      - backfill: { module: ./x.ts, table: orders }
      - backfill: { table: orders, batchSize: -1 }
      - verify: [{ sql: "select 1", severity: fatal }]
`);
    } catch (e) {
      error = e;
    }
    const issues = (error as { details: { issues: { path: string; message: string }[] } }).details
      .issues;
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'phases[0].steps[0].backfill.table',
        'phases[0].steps[1].backfill.batchSize',
        'phases[0].steps[1].backfill.set',
      ]),
    );
    expect(paths.some((p) => p.startsWith('phases[0].steps[2].verify[0]'))).toBe(true);
  });
});
