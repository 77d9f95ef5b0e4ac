import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/run-cli.js';
import { waitUntil } from '../helpers/wait-until.js';

// The embedded PostgreSQL (no database URL) shared by several CLI processes.
// Each test uses a fresh directory whose name contains spaces.

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) {
    // A test that failed half-way may leave the server running: stop it via a last command.
    if (existsSync(join(dir, '.cutover', 'pg', 'postmaster.pid'))) {
      await runCli(['runs'], { cwd: dir });
    }
    await rm(dir, { recursive: true, force: true });
  }
});

async function project(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover embedded dir '));
  dirs.push(dir);
  return dir;
}

function waitPlan(name: string, seconds: number): string {
  return `name: ${name}\nphases:\n  - name: p\n    steps:\n      - wait: { for: ${seconds}s }\n`;
}

function serverRunning(dir: string): boolean {
  return existsSync(join(dir, '.cutover', 'pg', 'postmaster.pid'));
}

function notices(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('Using the embedded PostgreSQL'));
}

describe('embedded PostgreSQL shared by several commands', () => {
  it('two commands started at once in a fresh directory (with spaces) both succeed, on one server, stopped after the last', async () => {
    const dir = await project();
    const [a, b] = await Promise.all([
      runCli(['runs', '--json'], { cwd: dir }),
      runCli(['tokens', 'list', '--json'], { cwd: dir }),
    ]);
    expect({ code: a.code, stderr: a.stderr }).toMatchObject({ code: 0 });
    expect({ code: b.code, stderr: b.stderr }).toMatchObject({ code: 0 });
    expect(JSON.parse(a.stdout)).toMatchObject({ ok: true, runs: [] });
    expect(JSON.parse(b.stdout)).toMatchObject({ ok: true });
    const ports = [...notices(a.stderr), ...notices(b.stderr)].map(
      (l) => /on port (\d+)/.exec(l)?.[1],
    );
    expect(ports).toHaveLength(2);
    expect(ports[0]).toBe(ports[1]);
    expect(serverRunning(dir)).toBe(false);
    expect(await readdir(join(dir, '.cutover', 'pg-users'))).toEqual([]);
  }, 240_000);

  it('the command that started the server does not stop it under another command still running', async () => {
    const dir = await project();
    const approvePlan = (name: string): string =>
      `name: ${name}\nphases:\n  - name: p\n    steps:\n      - approve: {}\n`;
    await writeFile(join(dir, 'first.yaml'), approvePlan('first'));
    await writeFile(join(dir, 'second.yaml'), approvePlan('second'));
    const started = async (
      file: string,
    ): Promise<{
      id: string;
      done: Promise<{ code: number | null; stdout: string; stderr: string }>;
    }> => {
      const proc = startCli(['run', file], { cwd: dir });
      let out = '';
      proc.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const id = await waitUntil(
        () =>
          /waits for approval/.test(out) ? /run ([0-9a-f]{8}) started/.exec(out)?.[1] : undefined,
        { timeoutMs: 180_000, what: `${file} to wait for its approval` },
      );
      return { id, done: proc.done };
    };
    // The first run starts the server; the second attaches to it.
    const first = await started('first.yaml');
    const second = await started('second.yaml');
    // The first one ends while the second still runs: the server must stay up.
    expect((await runCli(['approve', first.id], { cwd: dir })).code).toBe(0);
    const firstDone = await first.done;
    expect(firstDone.code).toBe(0);
    expect(notices(firstDone.stderr)[0]).not.toContain('already running');
    expect(serverRunning(dir)).toBe(true);
    expect((await runCli(['approve', second.id], { cwd: dir })).code).toBe(0);
    const secondDone = await second.done;
    expect({ code: secondDone.code, stderr: secondDone.stderr }).toMatchObject({ code: 0 });
    expect(notices(secondDone.stderr)[0]).toContain('(already running)');
    expect(secondDone.stdout).toContain('run completed');
    expect(serverRunning(dir)).toBe(false);
  }, 240_000);

  it('after a command is killed with SIGKILL, the next one reuses the server left running (ignoring a stale lock) and stops it when done', async () => {
    const dir = await project();
    await writeFile(join(dir, 'cutover.yaml'), waitPlan('killed', 600));
    const run = startCli(['run', '--yes'], { cwd: dir });
    let out = '';
    run.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await waitUntil(() => /waits until/.test(out), {
      timeoutMs: 180_000,
      what: 'the run to wait',
    });
    run.child.kill('SIGKILL');
    await run.done;
    expect(serverRunning(dir)).toBe(true);
    // A lock left by a process killed while it started or stopped the server.
    await writeFile(join(dir, '.cutover', 'pg.lock'), String(run.child.pid));

    const runs = await runCli(['runs', '--json'], { cwd: dir });
    expect({ code: runs.code, stderr: runs.stderr }).toMatchObject({ code: 0 });
    expect(notices(runs.stderr)).toEqual([expect.stringContaining('(already running)')]);
    expect(JSON.parse(runs.stdout)).toMatchObject({ runs: [{ plan: 'killed' }] });
    expect(serverRunning(dir)).toBe(false);
    expect(await readdir(join(dir, '.cutover', 'pg-users'))).toEqual([]);
    expect(existsSync(join(dir, '.cutover', 'pg.lock'))).toBe(false);
  }, 240_000);
});
