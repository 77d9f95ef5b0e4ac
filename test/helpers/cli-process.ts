import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type pg from 'pg';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** tsx's loader by absolute URL, so children in any directory can load the TypeScript sources. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** A `cutover` CLI running as a child process (TypeScript sources through tsx). */
export interface CliProcess {
  child: ChildProcess;
  pid: number;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128 + signal number) when it ends. */
  exited: Promise<{ code: number; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Starts `cutover <args>` in `cwd` with `env` added to the environment. */
export function spawnCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): CliProcess {
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{
    code: number;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    child.on('close', (code, signal) =>
      resolve({ code: code ?? 128, signal, stdout: out, stderr: err }),
    );
  });
  return { child, pid: child.pid ?? -1, stdout: () => out, stderr: () => err, exited };
}

/** Runs `cutover <args>` to the end. */
export async function runCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await spawnCli(args, options).exited;
  return { code: result.code, stdout: result.stdout, stderr: result.stderr };
}

/** SIGKILLs the process and waits until it is gone (reaped). */
export async function killHard(proc: CliProcess): Promise<void> {
  proc.child.kill('SIGKILL');
  await proc.exited;
}

/** The repository root (cwd for commands that need `node_modules`). */
export const REPO_ROOT = ROOT;

/**
 * Holds a row lock on a step of a run so the runner blocks right before it
 * records that step as started: the runner is then exactly "between steps".
 * Release (commit) with the returned function.
 */
export async function holdStepStart(
  pool: pg.Pool,
  runId: string,
  stepId: string,
): Promise<() => Promise<void>> {
  const client = await pool.connect();
  await client.query('begin');
  await client.query('select 1 from cutover.steps where run_id = $1 and step_id = $2 for update', [
    runId,
    stepId,
  ]);
  return async () => {
    await client.query('commit').catch(() => undefined);
    client.release();
  };
}
