/**
 * `npm start`: the main job. Runs the dashboard-v2 migration
 * (examples/dashboard-v2/cutover.yaml) end to end on realistic data:
 *
 *   npm start [-- --users 200000] [--seed 20240601] [--phase NAME] [--dir DIR]
 *
 * 1. Database: DATABASE_URL when set (it must hold nothing but the example),
 *    else an embedded PostgreSQL of the example's own in
 *    examples/dashboard-v2/.cutover/pg (started for the job, stopped after).
 * 2. A previous run of the example there (`npm start` was run before) resets
 *    it: the example's tables, cutover's schemas (runs, audit log, history,
 *    snapshots) and its backups are dropped.
 * 3. The legacy data is generated when absent (deterministic, seeded).
 * 4. `cutover run cutover.yaml --yes` runs the plan with the real CLI (dist/,
 *    built by `npm ci`; the sources through tsx without it), auto-approving;
 *    this script follows the run in the database: one line per step, a
 *    progress bar for the running step on a TTY.
 * 5. A summary: steps with durations, rows moved, the verification report,
 *    and how to roll back (or why it is refused past the point of no return).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type pg from 'pg';
import {
  EXAMPLE_PLAN,
  inspectExampleDatabase,
  resetExampleDatabase,
} from '../examples/dashboard-v2/src/example-database.js';
import { ensureDashboardData } from '../examples/dashboard-v2/src/generate-dashboards.js';
import { listBackups } from '../src/data/index.js';
import { connect, redactDatabaseUrl, startEmbeddedServer } from '../src/db/index.js';
import type { EventRecord, RunRecord, StepRecord } from '../src/store/index.js';
import { ControlStore } from '../src/store/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const exampleDir = join(root, 'examples', 'dashboard-v2');
const planFile = join(exampleDir, 'cutover.yaml');
const distMain = join(root, 'dist', 'cli', 'main.js');
/** The CLI: dist/ (built by `npm ci`), else the sources through tsx. */
const cliArgs = existsSync(distMain)
  ? [distMain]
  : [
      '--import',
      pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
      join(root, 'src', 'cli', 'main.ts'),
    ];
const tty = process.stdout.isTTY === true;

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '20240601' },
    phase: { type: 'string' },
    dir: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) {
  console.log(`npm start [-- --users N] [--seed N] [--phase NAME] [--dir DIR]

Runs the dashboard-v2 migration plan (examples/dashboard-v2/cutover.yaml) with
\`cutover run --yes\` on generated data, then prints a summary.

  --users N      users to generate (default 200000)
  --seed N       generator seed (default 20240601)
  --phase NAME   stop after this phase (e.g. rollout, to try \`cutover rollback\`)
  --dir DIR      working directory of the runs: its .cutover/ holds the embedded
                 PostgreSQL and the backups (default examples/dashboard-v2)

Database: DATABASE_URL (a database holding nothing but the example), else an
embedded PostgreSQL in <dir>/.cutover/pg.`);
  process.exit(0);
}
const users = Number(values.users);
const seed = Number(values.seed);
if (!Number.isInteger(users) || users < 1 || !Number.isInteger(seed)) {
  console.error('error USAGE: --users must be a positive integer and --seed an integer.');
  process.exit(2);
}
const workDir = resolve(values.dir ?? exampleDir);
const inRepo = !relative(root, workDir).startsWith('..') && !isAbsolute(relative(root, workDir));
/** How to type a cutover command in `workDir`. */
const cutoverCommand = inRepo ? 'npx cutover' : `node ${distMain}`;
const cdPrefix =
  workDir === process.cwd() ? '' : `cd ${relative(process.cwd(), workDir) || '.'} && `;

const n = (v: number): string => Math.round(v).toLocaleString('en-US');
const seconds = (ms: number): string =>
  (ms < 10_000 ? (ms / 1000).toFixed(1) : n(ms / 1000)) + ' s';
const plural = (count: number, one: string, many: string): string =>
  `${n(count)} ${count === 1 ? one : many}`;
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

// ------------------------------------------------------------------ database

let url = process.env.DATABASE_URL ?? '';
const external = url !== '';

// ------------------------------------------------------------------ steps

async function prepareData(db: pg.Pool): Promise<void> {
  const state = await inspectExampleDatabase(db);
  if (external && (state.otherTables.length > 0 || state.otherCutoverState.length > 0)) {
    const what = [...state.otherTables.map((t) => `table ${t}`), ...state.otherCutoverState];
    throw new Error(
      `DATABASE_URL's database holds more than the dashboard-v2 example (${what.slice(0, 5).join(', ')}${what.length > 5 ? ', …' : ''}); npm start resets it between runs, so it only uses an empty database. Point DATABASE_URL at an empty database, or unset it to use the embedded one.`,
    );
  }
  const last = state.runs[0];
  if (last !== undefined || (state.legacyRows !== null && state.legacyRows !== users)) {
    const why =
      last === undefined
        ? `it holds ${n(state.legacyRows ?? 0)} users, not ${n(users)}`
        : `run ${last.id.slice(0, 8)} of an earlier npm start is ${last.status.replace('_', ' ')}${state.legacyRows === null ? ' and dropped the legacy table' : ''}`;
    console.log(
      `Reset: ${why}; dropping the example's tables, cutover's schemas (runs, audit log, migration history, flags, snapshots) and its backups.`,
    );
    await resetExampleDatabase(db);
    const runIds = new Set(state.runs.map((r) => r.id));
    for (const backup of await listBackups({ dir: join(workDir, '.cutover', 'backups') })) {
      if (backup.runId !== undefined && runIds.has(backup.runId)) {
        await rm(backup.file, { force: true });
        await rm(`${backup.file}.json`, { force: true });
      }
    }
  }
  const started = Date.now();
  const generated = await ensureDashboardData(db, {
    users,
    seed,
    onProgress: (done) => {
      if (tty)
        process.stdout.write(`\r\x1b[KGenerating legacy data: ${n(done)} / ${n(users)} users`);
    },
  });
  if (tty) process.stdout.write('\r\x1b[K');
  console.log(
    generated === 0
      ? `Data: legacy_dashboard_configs already holds ${n(users)} users' dashboards.`
      : `Data: generated ${n(generated)} users' dashboards (seed ${seed}) in ${seconds(Date.now() - started)}.`,
  );
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function runPlan(db: pg.Pool): Promise<number> {
  const args = [
    ...cliArgs,
    'run',
    planFile,
    '--yes',
    '--json',
    '--database-url',
    url,
    ...(values.phase === undefined ? [] : ['--phase', values.phase]),
  ];
  console.log(
    `\n$ cutover run ${relative(workDir, planFile)} --yes${values.phase === undefined ? '' : ` --phase ${values.phase}`}\n`,
  );
  const env = { ...process.env };
  delete env.DATABASE_URL; // the URL is passed with --database-url
  const child = spawn(process.execPath, args, {
    cwd: workDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  // Ctrl-C reaches the CLI too (same process group): it stops at the next safe point.
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  const done = new Promise<CliResult>((resolveDone) => {
    child.on('close', (code, signal) =>
      resolveDone({ code: code ?? (signal === null ? 1 : 128), stdout, stderr }),
    );
  });
  const store = new ControlStore(db);
  const follower = new RunFollower(store);
  let finished = false;
  void done.then(() => (finished = true));
  const started = Date.now();
  while (!finished) {
    await follower.poll().catch(() => undefined);
    await Promise.race([done, new Promise((r) => setTimeout(r, 250))]);
  }
  const result = await done;
  await follower.poll().catch(() => undefined);
  follower.close();
  process.off('SIGINT', onSignal);

  const runId = follower.runId ?? parseRunId(result.stdout);
  if (runId === undefined) {
    console.error(result.stderr.trim() || result.stdout.trim() || 'cutover run started no run.');
    return result.code === 0 ? 1 : result.code;
  }
  const run = await store.getRun(runId);
  if (run === undefined) return result.code;
  const steps = await store.getSteps(runId);
  const events = await store.listEvents(runId);
  await printSummary(db, run, steps, events, Date.now() - started);
  if (result.code !== 0 && result.code !== 130) {
    const error = parseError(result.stdout);
    console.log(
      `\ncutover run exited with ${result.code}${error === undefined ? '' : `: ${error}`}${interrupted ? ' (interrupted)' : ''}`,
    );
  }
  return result.code;
}

function parseRunId(stdout: string): string | undefined {
  try {
    const json = JSON.parse(stdout) as { run?: { id?: unknown } };
    return typeof json.run?.id === 'string' ? json.run.id : undefined;
  } catch {
    return undefined;
  }
}

function parseError(stdout: string): string | undefined {
  try {
    const json = JSON.parse(stdout) as { error?: { code?: unknown; message?: unknown } | null };
    if (json.error === null || json.error === undefined) return undefined;
    return `${String(json.error.code)} ${String(json.error.message)}`;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ following the run

/**
 * Follows the run in cutover's tables (as `cutover status` does): prints one
 * line per step as it finishes, and on a TTY a transient line for the
 * running step (a progress bar when it reports progress, e.g. the backfill).
 */
class RunFollower {
  runId: string | undefined;
  private readonly printed = new Set<string>();
  private bar: cliProgress.SingleBar | undefined;
  private barKey: string | undefined;

  constructor(private readonly store: ControlStore) {}

  async poll(): Promise<void> {
    if (this.runId === undefined) {
      const runs = await this.store.listRuns({ planName: EXAMPLE_PLAN, limit: 1 });
      this.runId = runs[0]?.id;
      if (this.runId === undefined) return;
    }
    const steps = await this.store.getSteps(this.runId);
    const events = await this.store.listEvents(this.runId);
    for (const step of steps) {
      const line = finishedLine(step, events);
      if (line === undefined) continue;
      const key = `${step.stepId}:${step.status}`;
      if (this.printed.has(key)) continue;
      this.printed.add(key);
      this.stopBar();
      console.log(line);
    }
    if (!tty) return;
    const running = steps.find((s) => s.status === 'running' || s.status === 'compensating');
    if (running === undefined) {
      this.stopBar();
      return;
    }
    const verb = running.status === 'compensating' ? '↶' : '▶';
    const label = `${verb} ${running.stepId.padEnd(10)} ${running.kind.padEnd(8)}`;
    const progress = running.progress;
    const withBar = progress?.total !== undefined && progress.total > 0;
    const key = `${running.stepId}:${running.status}:${withBar ? 'bar' : 'text'}`;
    if (this.barKey !== key) {
      this.stopBar();
      this.bar = new cliProgress.SingleBar(
        {
          format: withBar
            ? `  ${label} [{bar}] {percentage}% | {value}/{total} {unit} | {rate} {unit}/s | ETA {eta_formatted}`
            : `  ${label} running… {duration_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
          stream: process.stdout,
          barsize: 24,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.round(progress?.total ?? 1), Math.round(progress?.done ?? 0), {
        unit: progress?.unit ?? '',
        rate: '-',
      });
      this.barKey = key;
    }
    if (withBar && progress !== undefined) {
      this.bar?.setTotal(Math.round(progress.total ?? 1));
      this.bar?.update(Math.round(progress.done), {
        unit: progress.unit,
        rate: progress.ratePerSecond === undefined ? '-' : n(progress.ratePerSecond),
      });
    } else {
      this.bar?.update(0);
    }
  }

  close(): void {
    this.stopBar();
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.barKey = undefined;
  }
}

function durationOf(step: StepRecord): number | undefined {
  if (step.startedAt === undefined || step.finishedAt === undefined) return undefined;
  return Math.max(0, step.finishedAt.getTime() - step.startedAt.getTime());
}

/** The line printed when a step reaches a final state of this execution, or undefined. */
function finishedLine(step: StepRecord, events: EventRecord[]): string | undefined {
  const head = (mark: string) =>
    `  ${mark} ${step.stepId.padEnd(10)} ${step.kind.padEnd(8)}${(durationOf(step) === undefined ? '' : seconds(durationOf(step)!)).padStart(8)}  `;
  switch (step.status) {
    case 'completed':
      return head('✓') + stepNote(step, events);
    case 'failed':
      return head('✗') + `failed: ${step.error?.message ?? '?'}`;
    case 'paused':
      return head('‖') + 'paused part-way (resumable)';
    case 'compensated':
      return `  ↶ ${step.stepId.padEnd(10)} ${step.kind.padEnd(8)}${''.padStart(8)}  compensated (rolled back)`;
    default:
      return undefined;
  }
}

function stepEvents(step: StepRecord, events: EventRecord[], type: string): EventRecord[] {
  return events.filter((e) => e.stepId === step.stepId && e.type === type);
}

/** What a completed step did, from its output and its events. */
function stepNote(step: StepRecord, events: EventRecord[]): string {
  const out = (step.output ?? {}) as Record<string, unknown>;
  switch (step.kind) {
    case 'snapshot': {
      const tables = (out.tables ?? []) as { table: string; rows: number }[];
      return `copied ${tables.map((t) => `${t.table} (${n(t.rows)} rows)`).join(', ')} into cutover_snapshots in one transaction${typeof out.bytes === 'number' ? `, ${mib(out.bytes)}` : ''}`;
    }
    case 'backup':
      return `pg_dump ${typeof out.bytes === 'number' ? mib(out.bytes) : ''}, verified with pg_restore --list: .cutover/backups/${String(out.name)}`;
    case 'migrate': {
      const applied = stepEvents(step, events, 'migration.applied').map(
        (e) => `${String(e.details.version)} ${String(e.details.name)}`,
      );
      const irreversible = step.phaseIrreversible ? ' — the point of no return' : '';
      return applied.length === 0
        ? `nothing to apply (already at ${String(out.to)})${irreversible}`
        : `applied ${applied.join(', ')}${irreversible}`;
    }
    case 'backfill': {
      const rows = Number(out.rows ?? 0);
      const ms = Number(out.durationMs ?? 0);
      const p99 = (out.batchMs as { p99?: number } | undefined)?.p99;
      return `${n(rows)} documents → dashboard_configurations + dashboard_widgets in ${plural(Number(out.batches ?? 0), 'batch', 'batches')}${ms > 0 ? `, ${n((rows * 1000) / ms)} rows/s` : ''}${p99 === undefined ? '' : `, p99 batch ${p99} ms`}`;
    }
    case 'verify': {
      const checks = (out.checks ?? []) as unknown[];
      const len = (v: unknown) => (Array.isArray(v) ? v.length : 0);
      return `${checks.length} checks ${out.passed === true ? 'passed' : 'FAILED'}: ${len(out.critical)} critical, ${len(out.warnings)} warnings, ${len(out.info)} info`;
    }
    case 'approve':
      return `approved by ${String(out.approvedBy)}`;
    case 'flag':
      return `flag ${String(out.key)} (${String(out.env)}): ${String(out.summary)} — version ${String(out.version)}`;
    default:
      return '';
  }
}

// ------------------------------------------------------------------ summary

interface Check {
  name?: string;
  kind: string;
  severity: string;
  passed: boolean;
  message: string;
  recommendation?: string;
  details?: { rows?: Record<string, unknown>[] };
}

async function printSummary(
  db: pg.Pool,
  run: RunRecord,
  steps: StepRecord[],
  events: EventRecord[],
  wallMs: number,
): Promise<void> {
  const id = run.id.slice(0, 8);
  const state =
    run.status === 'rolled_back' ? 'rolled back' : run.status === 'paused' ? 'paused' : run.status;
  console.log(`\nSummary — run ${id} of plan ${run.planName}: ${state} in ${seconds(wallMs)}`);

  const backfill = steps.find((s) => s.kind === 'backfill' && s.status === 'completed');
  const c = {
    legacy: await countRows(db, 'legacy_dashboard_configs'),
    configs: await countRows(db, 'dashboard_configurations'),
    widgets: await countRows(db, 'dashboard_widgets'),
  };
  console.log('\nRows moved');
  if (backfill !== undefined) {
    const out = (backfill.output ?? {}) as { rows?: number; batches?: number };
    console.log(
      `  ${n(out.rows ?? 0)} legacy documents backfilled in ${plural(out.batches ?? 0, 'batch', 'batches')} → ${c.configs === null ? '?' : n(c.configs)} dashboard_configurations rows, ${c.widgets === null ? '?' : n(c.widgets)} dashboard_widgets rows`,
    );
  } else {
    console.log('  none (the backfill did not complete)');
  }
  console.log(
    `  legacy_dashboard_configs: ${c.legacy === null ? 'dropped by the contract phase' : `${n(c.legacy)} rows, still there`}`,
  );

  const lastFlag = steps.filter((s) => s.kind === 'flag' && s.status === 'completed').at(-1);
  if (lastFlag !== undefined) {
    const out = lastFlag.output as { key?: string; env?: string; version?: number };
    const rollout = steps
      .filter((s) => s.kind === 'flag' && s.status === 'completed')
      .map((s) => `${String((s.output as { summary?: string }).summary)}`)
      .join(' · ');
    console.log(
      `\nFeature flag ${String(out.key)} (${String(out.env)}), version ${String(out.version)}: ${rollout}`,
    );
  }

  const verify = steps.find((s) => s.kind === 'verify' && s.output !== undefined);
  if (verify !== undefined) {
    const report = verify.output as {
      passed: boolean;
      checks: Check[];
      recommendations?: string[];
    };
    console.log(
      `\nVerification report (step ${verify.stepId}): ${report.passed ? 'passed' : 'FAILED'}`,
    );
    for (const check of report.checks) {
      const mark = check.passed
        ? '✓'
        : check.severity === 'info'
          ? 'ℹ'
          : check.severity === 'warning'
            ? '!'
            : '✗';
      console.log(`  ${mark} ${check.name ?? check.kind} [${check.severity}]`);
      if (check.passed && check.kind !== 'sql') console.log(`      ${check.message}`);
      if (!check.passed) {
        const rows = check.details?.rows;
        if (Array.isArray(rows) && rows.length > 0) {
          for (const row of rows.slice(0, 6)) {
            console.log(
              `      ${Object.entries(row)
                .map(
                  ([k, v]) =>
                    `${k} ${typeof v === 'string' && /^\d+$/.test(v) ? n(Number(v)) : String(v)}`,
                )
                .join(' · ')}`,
            );
          }
        } else {
          console.log(`      ${check.message}`);
        }
      }
    }
    for (const recommendation of report.recommendations ?? []) console.log(`  → ${recommendation}`);
  }

  console.log('\nRolling back');
  const cmd = (args: string) => `${cdPrefix}${cutoverCommand} ${args}`;
  const urlNote = external ? ' (with DATABASE_URL set as now)' : '';
  const pastPoint = steps.find((s) => s.phaseIrreversible && s.status !== 'pending');
  const backup = steps.find((s) => s.kind === 'backup' && s.status === 'completed');
  const backupName = (backup?.output as { name?: string } | undefined)?.name;
  if (run.status === 'rolled_back') {
    console.log('  The run was rolled back: every table is as it was before the run.');
  } else if (pastPoint !== undefined) {
    console.log(
      `  Refused: phase ${pastPoint.phase} is irreversible — step ${pastPoint.stepId} dropped legacy_dashboard_configs, the point of no return.`,
    );
    console.log(
      `  \`cutover rollback ${id}\` exits with ROLLBACK_PAST_POINT_OF_NO_RETURN (exit code 7) and changes nothing.`,
    );
    console.log('  Instead: roll forward — fix what is wrong in a new plan and run it.');
    if (backupName !== undefined) {
      console.log(
        `  Disaster recovery: the backup of step ${backup?.stepId} holds the legacy table as it was. Restore it into an empty database and copy legacy_dashboard_configs back from there:`,
      );
      console.log(
        `    ${cmd(`backup restore ${backupName} --no-clean --yes --database-url <empty database>`)}`,
      );
      console.log(
        '    (not in place: the dump would drop and recreate users, which the new tables reference)',
      );
    }
    console.log(
      '  To try a rollback: `npm start -- --phase rollout` stops before the contract phase; then roll back the run it prints.',
    );
  } else if (run.status === 'running') {
    console.log(`  The run was interrupted. Continue it${urlNote}: ${cmd(`resume ${id} --yes`)}`);
    console.log(`  or undo it: ${cmd(`rollback ${id} --yes`)}`);
  } else {
    console.log(
      `  Undo it${urlNote}: ${cmd(`rollback ${id} --yes`)} — compensates the completed steps in reverse: the flag back to its previous versions (deleted), the backfilled rows deleted (the module's revert), migrations down (the new tables and indexes dropped), the snapshot of legacy_dashboard_configs restored.`,
    );
    if (run.status !== 'completed')
      console.log(`  Or continue it${urlNote}: ${cmd(`resume ${id} --yes`)}`);
  }
  const interruptions = events.filter((e) => e.type === 'run.interrupted').length;
  if (interruptions > 0)
    console.log(`  (the run was interrupted ${interruptions} time(s) and resumed)`);
  console.log(
    `\nThe audit log of the run: ${cmd(`logs ${id}`)}${urlNote}. A new \`npm start\` resets the example and runs it again.`,
  );
}

/** Rows of a table of schema public, or null when it does not exist. */
async function countRows(db: pg.Pool, table: string): Promise<number | null> {
  const { rows } = await db.query<{ present: boolean }>(
    'select to_regclass($1) is not null as present',
    [`public.${table}`],
  );
  if (rows[0]?.present !== true) return null;
  const counted = await db.query<{ n: number }>(`select count(*)::int as n from public.${table}`);
  return counted.rows[0]?.n ?? 0;
}

async function main(): Promise<number> {
  let stopServer: (() => Promise<void>) | undefined;
  if (!external) {
    const server = await startEmbeddedServer({ cwd: workDir });
    url = server.url;
    stopServer = () => server.stop();
    console.log(
      `Database: the example's embedded PostgreSQL in ${relative(process.cwd(), server.dataDir)} (port ${server.port}${server.started ? '' : ', already running'}).`,
    );
  } else {
    console.log(`Database: DATABASE_URL (${redactDatabaseUrl(url)}).`);
  }

  let pool: pg.Pool | undefined;
  let exitCode = 0;
  try {
    pool = await connect(url, { max: 3 });
    await prepareData(pool);
    exitCode = await runPlan(pool);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    exitCode = 1;
  } finally {
    await pool?.end().catch(() => undefined);
    await stopServer?.().catch(() => undefined);
  }
  return exitCode;
}

process.exit(await main());
