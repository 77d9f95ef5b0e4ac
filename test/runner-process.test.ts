import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureControlSchema } from '../src/store/control-schema.js';
import { ControlStore } from '../src/store/control-store.js';
import type { RunRecord } from '../src/store/run-records.js';
import { killHard, runCli, spawnCli } from './helpers/cli-process.js';
import { killAt } from './helpers/kill-points.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';
import { waitUntil } from './helpers/wait-until.js';

/**
 * The runner as a separate process (the `cutover` CLI), killed from outside
 * at named points by watching the database (events, step status,
 * pg_stat_activity) — no test hooks in production code.
 */
let db: TestDatabase;
let store: ControlStore;
let root: string;

beforeAll(async () => {
  db = await createTestDatabase('proc');
  await ensureControlSchema(db.pool);
  store = new ControlStore(db.pool);
  await db.pool.query('create table journal (id serial primary key, entry text not null)');
  root = await mkdtemp(join(tmpdir(), 'cutover-proc-'));
});
afterAll(async () => {
  await db.drop();
  await rm(root, { recursive: true, force: true });
});

/** A directory with `cutover.yaml` holding `plan`. */
async function planDir(name: string, plan: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'cutover.yaml'), plan);
  return dir;
}

function journaled(entry: string, downSql = ''): string {
  return `      - sql:
          up: "insert into journal (entry) values ('${entry}')"
          down: "${downSql}insert into journal (entry) values ('undo ${entry}')"
`;
}

async function journal(prefix: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ entry: string }>(
    `select entry from journal where entry like $1 or entry like $2 order by id`,
    [`${prefix}%`, `undo ${prefix}%`],
  );
  return rows.map((r) => r.entry);
}

async function runOf(plan: string): Promise<RunRecord> {
  return waitUntil(async () => (await store.listRuns({ planName: plan }))[0], {
    what: `a run of ${plan}`,
  });
}

async function hasEvent(runId: string, type: string, stepId?: string): Promise<boolean> {
  const events = await store.listEvents(runId);
  return events.some((e) => e.type === type && (stepId === undefined || e.stepId === stepId));
}

const cli = (dir: string, ...args: string[]) => ({
  args: [...args, '--database-url', db.url],
  options: { cwd: dir },
});

describe('runner processes', () => {
  it('two runners on one plan: exactly one executes, the other is refused naming the holder', async () => {
    const dir = await planDir(
      'two',
      `name: two-runners
phases:
  - name: a
    steps:
${journaled('two 1')}      - wait: { for: 4s }
`,
    );
    const a = cli(dir, 'run', '--yes');
    const first = spawnCli(a.args, a.options);
    const second = spawnCli(a.args, a.options);
    const results = await Promise.all([first.exited, second.exited]);
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 4]);
    const winner = results[0].code === 0 ? first : second;
    const loser = results.find((r) => r.code === 4)!;
    expect(loser.stderr).toContain('error LEASE_HELD');
    expect(loser.stderr).toContain(`pid ${winner.pid}`);
    expect(await store.listRuns({ planName: 'two-runners' })).toHaveLength(1);
    expect(await journal('two')).toEqual(['two 1']);
  });

  it('resumes after SIGKILL between steps without applying a step twice', async () => {
    const dir = await planDir(
      'between',
      `name: between
phases:
  - name: a
    steps:
      - wait: { for: 1500ms }
${journaled('between 1')}${journaled('between 2')}`,
    );
    const c = cli(dir, 'run', '--yes');
    const killed = await killAt(
      { kind: 'before-step', stepId: 'a.2' },
      { ...c.options, args: c.args, pool: db.pool, database: db.name, planName: 'between' },
    );
    const run = (await store.getRun(killed.runId))!;
    const proc = { pid: killed.pid };
    expect((await store.getSteps(run.id)).map((s) => s.status)).toEqual([
      'completed',
      'completed',
      'pending',
    ]);
    const r = cli(dir, 'resume', run.id.slice(0, 8));
    const resumed = await runCli(r.args, r.options);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('run was interrupted');
    expect(await journal('between')).toEqual(['between 1', 'between 2']);
    const steps = await store.getSteps(run.id);
    expect(steps.map((s) => [s.status, s.attempt])).toEqual([
      ['completed', 1],
      ['completed', 1],
      ['completed', 1],
    ]);
    const l = cli(dir, 'logs', run.id, '--json');
    const logs = JSON.parse((await runCli(l.args, l.options)).stdout) as {
      events: { type: string; details: Record<string, unknown> }[];
    };
    const interrupted = logs.events.find((e) => e.type === 'run.interrupted');
    expect(interrupted?.details).toMatchObject({ previousHolder: { pid: proc.pid } });
  });

  it('resumes after SIGKILL during a wait, waiting only until the persisted deadline', async () => {
    const dir = await planDir(
      'wait',
      `name: kill-wait
phases:
  - name: a
    steps:
${journaled('killwait 1')}      - wait: { for: 3s }
${journaled('killwait 2')}`,
    );
    const c = cli(dir, 'run');
    const proc = spawnCli(c.args, c.options);
    const run = await runOf('kill-wait');
    await waitUntil(() => hasEvent(run.id, 'wait.started', 'a.1'), { what: 'the wait' });
    const deadline = ((await store.getStep(run.id, 'a.1'))?.checkpoint as { deadline: number })
      .deadline;
    await killHard(proc);
    const r = cli(dir, 'resume', run.id);
    const resumed = await runCli(r.args, r.options);
    expect(resumed.code).toBe(0);
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
    const wait = await store.getStep(run.id, 'a.1');
    expect(wait?.attempt).toBe(2);
    expect(wait?.output).toEqual({ deadline: new Date(deadline).toISOString(), forMs: 3000 });
    expect(await journal('killwait')).toEqual(['killwait 1', 'killwait 2']);
    expect(await hasEvent(run.id, 'run.interrupted', 'a.1')).toBe(true);
  });

  it('resumes after SIGKILL during a migration: the killed migration is applied once', async () => {
    const dir = await planDir(
      'migration',
      `name: kill-migration
migrations: ./migrations
phases:
  - name: a
    steps:
      - migrate: { to: "0002" }
${journaled('killmig 1')}`,
    );
    await mkdir(join(dir, 'migrations'));
    await writeFile(
      join(dir, 'migrations', '0001_first.sql'),
      '-- migrate:up\ncreate table km_first (id int);\n-- migrate:down\ndrop table km_first;\n',
    );
    await writeFile(
      join(dir, 'migrations', '0002_slow.sql'),
      '-- migrate:up\ncreate table km_slow (id int);\nselect pg_sleep(2);\n-- migrate:down\ndrop table km_slow;\n',
    );
    const c = cli(dir, 'run', '--yes');
    const killed = await killAt(
      { kind: 'query', pattern: '%pg_sleep(2)%' },
      { ...c.options, args: c.args, pool: db.pool, database: db.name, planName: 'kill-migration' },
    );
    const run = (await store.getRun(killed.runId))!;
    const r = cli(dir, 'resume', run.id);
    const resumed = await runCli(r.args, r.options);
    expect(resumed.code).toBe(0);
    const { rows } = await db.pool.query<{ version: string; run_id: string }>(
      `select version, run_id from cutover.schema_migrations where version in ('0001', '0002') order by version`,
    );
    expect(rows).toEqual([
      { version: '0001', run_id: run.id },
      { version: '0002', run_id: run.id },
    ]);
    const tables = await db.pool.query(
      `select count(*)::int as n from information_schema.tables where table_name in ('km_first', 'km_slow')`,
    );
    expect(tables.rows[0]).toEqual({ n: 2 });
    expect(await journal('killmig')).toEqual(['killmig 1']);
    const step = await store.getStep(run.id, 'a.0');
    expect(step?.output).toEqual({ from: null, to: '0002', applied: ['0001', '0002'] });
    expect(step?.attempt).toBe(2);
  });

  it('continues a rollback killed half-way; each compensation runs once', async () => {
    const dir = await planDir(
      'rollback',
      `name: kill-rollback
phases:
  - name: a
    steps:
${journaled('killrb 1')}${journaled('killrb 2', 'select pg_sleep(2); ')}${journaled('killrb 3')}`,
    );
    const c = cli(dir, 'run', '--yes');
    expect((await runCli(c.args, c.options)).code).toBe(0);
    const run = await runOf('kill-rollback');
    const rb = cli(dir, 'rollback', run.id, '--yes');
    const proc = spawnCli(rb.args, rb.options);
    await waitUntil(() => hasEvent(run.id, 'step.compensating', 'a.1'), {
      what: 'a.1 compensating',
    });
    await killHard(proc);
    expect((await store.getRun(run.id))?.mode).toBe('rollback');
    const again = await runCli(rb.args, rb.options);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('rolled back');
    expect(await journal('killrb')).toEqual([
      'killrb 1',
      'killrb 2',
      'killrb 3',
      'undo killrb 3',
      'undo killrb 2',
      'undo killrb 1',
    ]);
    expect((await store.getRun(run.id))?.status).toBe('rolled_back');
  });

  it('Ctrl-C during run stops at a safe point, says how to resume, and exits 130', async () => {
    const dir = await planDir(
      'sigint',
      `name: sigint
phases:
  - name: a
    steps:
${journaled('sigint 1')}      - approve: {}
${journaled('sigint 2')}`,
    );
    const c = cli(dir, 'run');
    const proc = spawnCli(c.args, c.options);
    const run = await runOf('sigint');
    await waitUntil(() => hasEvent(run.id, 'approval.waiting', 'a.1'), { what: 'the approval' });
    proc.child.kill('SIGINT');
    const result = await proc.exited;
    expect(result.code).toBe(130);
    expect(result.stdout).toContain(`Resume with: cutover resume ${run.id.slice(0, 8)}`);
    expect((await store.getRun(run.id))?.status).toBe('paused');
    const approve = cli(dir, 'approve', run.id, '--json');
    const approved = await runCli(approve.args, approve.options);
    expect(JSON.parse(approved.stdout)).toMatchObject({ ok: true, step: 'a.1', created: true });
    const r = cli(dir, 'resume', run.id, '--json');
    const resumed = await runCli(r.args, r.options);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ ok: true, outcome: 'completed' });
    expect(await journal('sigint')).toEqual(['sigint 1', 'sigint 2']);
  });

  it('cutover stop pauses a run held by another process at the next safe point', async () => {
    const dir = await planDir(
      'stop',
      `name: stop-cmd
phases:
  - name: a
    steps:
      - wait: { for: 1h }
${journaled('stopcmd 1')}`,
    );
    const c = cli(dir, 'run');
    const proc = spawnCli(c.args, c.options);
    const run = await runOf('stop-cmd');
    await waitUntil(() => hasEvent(run.id, 'wait.started', 'a.0'), { what: 'the wait' });
    const s = cli(dir, 'stop', run.id);
    const stopped = await runCli(s.args, s.options);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain(`Run ${run.id.slice(0, 8)} is paused`);
    expect((await proc.exited).code).toBe(130);
    const status = cli(dir, 'status', run.id, '--json');
    const json = JSON.parse((await runCli(status.args, status.options)).stdout) as {
      run: { status: string; steps: { status: string }[] };
    };
    expect(json.run.status).toBe('paused');
    expect(json.run.steps.map((st) => st.status)).toEqual(['paused', 'pending']);
  });
});
