import { createInterface } from 'node:readline/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { redactDatabaseUrl } from '../../db/index.js';
import { CutoverError } from '../../errors/index.js';
import { loadPlan, parseDuration, planDatabase } from '../../plan/index.js';
import {
  Runner,
  approveStep,
  defaultActor,
  describePlan,
  requestStop,
  type RunResult,
} from '../../runner/index.js';
import type { StepRecord } from '../../store/index.js';
import type { ControlHandle } from '../control-context.js';
import {
  cliRegistry,
  configuredDatabase,
  openControl,
  usesPlanDatabase,
} from '../control-context.js';
import type { CommandContext } from '../command-context.js';
import { confirmAction } from '../confirm-action.js';
import { EXIT, exitCodeFor } from '../exit-codes.js';
import { runJson, shortId, stepsTable } from '../format-run.js';
import { createLiveOutput } from '../live-output.js';
import { runCommand } from '../run-command.js';
import { printPlan } from './plan.js';

interface CommonFlags {
  json?: boolean;
  databaseUrl?: string;
  file?: string;
}

interface ExecFlags extends CommonFlags {
  phase?: string;
  yes?: boolean;
  dryRun?: boolean;
  leaseTimeout?: string;
}

const DB_HELP = 'target database (default: DATABASE_URL, the plan, or the embedded PostgreSQL)';
const FILE_HELP = 'plan file whose `database` to use (default ./cutover.yaml when it exists)';
const LEASE_HELP =
  'lease time to live: another process may take the run over this long after this one stops renewing it';

/** `cutover run`, `resume`, `rollback`, `stop`, `approve`. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'Start a run of a plan: execute its steps in order, durably (resumable after a crash).',
    )
    .argument('[file]', 'plan file (YAML or .ts)', 'cutover.yaml')
    .option('--phase <name>', 'run up to and including this phase, then pause')
    .option('--dry-run', 'validate and describe the steps; change nothing')
    .option('-y, --yes', 'do not ask for confirmation; approve `approve` steps automatically')
    .option('--lease-timeout <duration>', LEASE_HELP, '15s')
    .option('--database-url <url>', DB_HELP)
    .option('--json', 'print one JSON document')
    .action(async (file: string, flags: ExecFlags) => {
      await runCommand(flags, async (ctx) => {
        const leaseTtlMs = leaseTimeout(flags.leaseTimeout);
        const registry = cliRegistry();
        const plan = await loadPlan(file, { registry, cwd: ctx.cwd });
        if (flags.phase !== undefined && !plan.phases.some((p) => p.name === flags.phase)) {
          throw new CutoverError(
            'PHASE_NOT_FOUND',
            'usage',
            `The plan has no phase "${flags.phase}".`,
            {
              location: '--phase',
              hint: `Use one of: ${plan.phases.map((p) => p.name).join(', ')}.`,
            },
          );
        }
        const control = await openControl(ctx, {
          flag: flags.databaseUrl,
          configured: usesPlanDatabase(flags.databaseUrl) ? planDatabase(plan) : undefined,
        });
        if (flags.dryRun === true) {
          const description = await describePlan(plan, {
            pool: control.pool,
            databaseUrl: control.url,
            registry,
          });
          printPlan(ctx, plan, description, control.url, { dryRun: true });
          return description.ok ? EXIT.ok : EXIT.failed;
        }
        if (flags.yes !== true && !ctx.json && process.stdin.isTTY && process.stdout.isTTY) {
          const ok = await confirm(
            `Run plan ${plan.name} (${plan.steps.length} steps, environment ${plan.environment}) on ${redactDatabaseUrl(control.url)}? [y/N] `,
          );
          if (!ok) {
            ctx.out('Cancelled; nothing was changed.');
            return EXIT.ok;
          }
        }
        return execute(ctx, control, leaseTtlMs, (runner, signal) =>
          runner.start(plan, {
            ...(flags.phase === undefined ? {} : { untilPhase: flags.phase }),
            autoApprove: flags.yes === true,
            signal,
          }),
        );
      });
    });

  program
    .command('resume')
    .description(
      'Continue a stopped, paused, failed or interrupted run (after a crash: no step is applied twice).',
    )
    .argument('[run]', 'run id or unique prefix (default: the most recent unfinished run)')
    .option('--phase <name>', 'continue up to and including this phase, then pause')
    .option('-y, --yes', 'approve `approve` steps automatically')
    .option('--lease-timeout <duration>', LEASE_HELP, '15s')
    .option('-f, --file <plan>', FILE_HELP)
    .option('--database-url <url>', DB_HELP)
    .option('--json', 'print one JSON document')
    .action(async (ref: string | undefined, flags: ExecFlags) => {
      await runCommand(flags, async (ctx) => {
        const leaseTtlMs = leaseTimeout(flags.leaseTimeout);
        const control = await connectForRun(ctx, flags);
        return execute(ctx, control, leaseTtlMs, (runner, signal) =>
          runner.resume(ref, {
            ...(flags.phase === undefined ? {} : { untilPhase: flags.phase }),
            ...(flags.yes === true ? { autoApprove: true } : {}),
            signal,
          }),
        );
      });
    });

  program
    .command('rollback')
    .description(
      'Roll a run back: compensate its started steps in reverse order (refused past an irreversible phase). Resumable.',
    )
    .argument(
      '[run]',
      'run id or unique prefix (default: the most recent unfinished run, else the latest)',
    )
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--lease-timeout <duration>', LEASE_HELP, '15s')
    .option('-f, --file <plan>', FILE_HELP)
    .option('--database-url <url>', DB_HELP)
    .option('--json', 'print one JSON document')
    .action(async (ref: string | undefined, flags: ExecFlags) => {
      await runCommand(flags, async (ctx) => {
        const leaseTtlMs = leaseTimeout(flags.leaseTimeout);
        const control = await connectForRun(ctx, flags);
        const run = await control.store.findRun(ref);
        // A rollback changes data: without a terminal to ask on, --yes is required.
        const ok = await confirmAction(
          ctx,
          `Roll back run ${shortId(run.id)} of plan ${run.planName} (${run.environment}, ${run.status.replace('_', ' ')})?`,
          flags.yes,
        );
        if (!ok) {
          ctx.out('Cancelled; nothing was changed.');
          return EXIT.ok;
        }
        return execute(ctx, control, leaseTtlMs, (runner, signal) =>
          runner.rollback(run.id, { signal, reason: `requested by ${defaultActor()}` }),
        );
      });
    });

  program
    .command('stop')
    .description(
      'Ask a run to pause at its next safe point (between steps or batches); `cutover resume` continues it.',
    )
    .argument('[run]', 'run id or unique prefix (default: the most recent unfinished run)')
    .option('--no-wait', 'return at once instead of waiting until the run has paused')
    .option('--timeout <duration>', 'how long to wait for the run to pause', '60s')
    .option('-f, --file <plan>', FILE_HELP)
    .option('--database-url <url>', DB_HELP)
    .option('--json', 'print one JSON document')
    .action(
      async (ref: string | undefined, flags: CommonFlags & { wait: boolean; timeout: string }) => {
        await runCommand(flags, async (ctx) => {
          const timeoutMs = parseDuration(flags.timeout);
          if (timeoutMs === undefined) throw badDuration('--timeout', flags.timeout);
          const control = await connectForRun(ctx, flags);
          const result = await requestStop(control.store, ref, defaultActor());
          let run = result.run;
          let state: string = result.state;
          if (result.state === 'requested' && flags.wait) {
            if (!ctx.json)
              ctx.err(`Stop requested; waiting for run ${shortId(run.id)} to reach a safe point…`);
            const deadline = Date.now() + timeoutMs;
            while (run.status === 'running' && Date.now() < deadline) {
              await new Promise((resolve) => setTimeout(resolve, 250));
              run = (await control.store.getRun(run.id)) ?? run;
            }
            state = run.status === 'running' ? 'requested' : 'paused';
          }
          if (ctx.json) {
            ctx.printJson({ ok: true, state, run: runJson(run) });
          } else if (state === 'requested') {
            ctx.out(`Stop requested: run ${shortId(run.id)} pauses at its next safe point.`);
          } else if (state === 'already_paused') {
            ctx.out(`Run ${shortId(run.id)} is not running (${run.status}).`);
          } else {
            ctx.out(
              `Run ${shortId(run.id)} is paused. Resume with: cutover resume ${shortId(run.id)}`,
            );
          }
          return EXIT.ok;
        });
      },
    );

  program
    .command('approve')
    .description('Approve the `approve` step a run is waiting on (the approver is recorded).')
    .argument('[run]', 'run id or unique prefix (default: the most recent unfinished run)')
    .option('--step <id>', 'approve this approve step (also in advance, before the run gets there)')
    .option('-m, --comment <text>', 'comment recorded with the approval')
    .option('-f, --file <plan>', FILE_HELP)
    .option('--database-url <url>', DB_HELP)
    .option('--json', 'print one JSON document')
    .action(
      async (ref: string | undefined, flags: CommonFlags & { step?: string; comment?: string }) => {
        await runCommand(flags, async (ctx) => {
          const control = await connectForRun(ctx, flags);
          const result = await approveStep(control.store, ref, defaultActor(), {
            ...(flags.step === undefined ? {} : { stepId: flags.step }),
            ...(flags.comment === undefined ? {} : { comment: flags.comment }),
          });
          if (ctx.json) {
            ctx.printJson({
              ok: true,
              created: result.created,
              run: result.run.id,
              step: result.step.stepId,
              approvedBy: result.approval.approvedBy,
              approvedAt: result.approval.approvedAt.toISOString(),
              comment: result.approval.comment ?? null,
            });
          } else {
            ctx.out(
              result.created
                ? `Approved step ${result.step.stepId} of run ${shortId(result.run.id)} as ${result.approval.approvedBy}.`
                : `Step ${result.step.stepId} of run ${shortId(result.run.id)} was already approved by ${result.approval.approvedBy}.`,
            );
          }
          return EXIT.ok;
        });
      },
    );
}

/** Connects for a command that names a run: the database from the flag, env, or the plan file. */
export async function connectForRun(
  ctx: CommandContext,
  flags: CommonFlags,
): Promise<ControlHandle> {
  const configured =
    flags.databaseUrl !== undefined || process.env.DATABASE_URL
      ? undefined
      : await configuredDatabase(ctx.cwd, flags.file);
  return openControl(ctx, { flag: flags.databaseUrl, configured });
}

async function execute(
  ctx: CommandContext,
  control: ControlHandle,
  leaseTtlMs: number,
  action: (runner: Runner, signal: AbortSignal) => Promise<RunResult>,
): Promise<number> {
  const live = createLiveOutput(ctx);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      controller.abort();
      live.close();
      ctx.err(
        'Stopping at the next safe point… (press Ctrl-C again to quit at once; the run stays resumable)',
      );
    } else {
      process.exit(EXIT.interrupted);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const runner = new Runner({
    pool: control.pool,
    databaseUrl: control.url,
    registry: cliRegistry(),
    stateDir: join(ctx.cwd, '.cutover'),
    leaseTtlMs,
    onEvent: (event) => live.onEvent(event),
    onProgress: (stepId, progress) => live.onProgress(stepId, progress),
  });
  let result: RunResult;
  try {
    result = await action(runner, controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    live.close();
  }
  return report(ctx, result, interrupts > 0);
}

function report(ctx: CommandContext, result: RunResult, interrupted: boolean): number {
  const id = shortId(result.run.id);
  const code = exitCode(result);
  if (ctx.json) {
    ctx.printJson({
      ok: code === EXIT.ok,
      outcome: result.outcome,
      run: runJson(result.run, result.steps),
      error: result.error ?? null,
    });
    return code;
  }
  const done = result.steps.filter((s) => s.status === 'completed').length;
  switch (result.outcome) {
    case 'completed': {
      ctx.out(stepsTable(result.steps, Date.now()));
      ctx.out(`Run ${id} of plan ${result.run.planName} completed: ${done} steps.`);
      const past = result.steps.find((s) => s.phaseIrreversible && s.status !== 'pending');
      ctx.out(
        past === undefined
          ? `Undo it with: cutover rollback ${id}`
          : `It passed the point of no return (phase ${past.phase}): it cannot be rolled back.`,
      );
      break;
    }
    case 'paused':
      ctx.out(
        `Run ${id} paused after phase ${result.run.untilPhase ?? '?'}. Continue with: cutover resume ${id}`,
      );
      break;
    case 'stopped':
      ctx.out(
        `${interrupted ? 'Interrupted' : 'Stopped'} at a safe point. Resume with: cutover resume ${id} — or undo with: cutover rollback ${id}`,
      );
      break;
    case 'rolled_back':
      ctx.out(stepsTable(result.steps, Date.now()));
      ctx.out(
        result.rolledBackAfterFailure
          ? `Run ${id} rolled back after a failure: ${result.error?.message ?? ''}`
          : `Run ${id} rolled back.`,
      );
      // The failure that caused it, as the one error line every command prints.
      if (result.rolledBackAfterFailure === true) {
        ctx.err(errorLine(result.error, failedStep(result)));
      }
      break;
    case 'failed':
      ctx.err(errorLine(result.error, failedStep(result)));
      ctx.out(`Retry with: cutover resume ${id} — or undo with: cutover rollback ${id}`);
      break;
  }
  return code;
}

/** The step whose failure ended the run, if any. */
function failedStep(result: RunResult): StepRecord | undefined {
  return (
    result.steps.find((s) => s.status === 'failed') ??
    result.steps.find((s) => s.error !== undefined)
  );
}

/**
 * `error CODE: message (at where) Fix: how` — one line, as `reportError`
 * prints; where is the error's location, else the failed step's place in the plan.
 */
function errorLine(
  error: { code: string; message: string; location?: string; hint?: string } | undefined,
  step?: StepRecord,
): string {
  if (error === undefined) return 'error FAILED: the run failed';
  const stepWhere =
    step === undefined
      ? undefined
      : `${step.location === undefined ? '' : `${step.location}, `}step ${step.stepId}`;
  const location = error.location ?? stepWhere;
  const where = location === undefined ? '' : ` (at ${location})`;
  const hint = error.hint === undefined || error.hint === '' ? '' : ` Fix: ${error.hint}`;
  return `error ${error.code}: ${error.message.replace(/\s*\n\s*/g, ' ')}${where}${hint}`;
}

/** Exit code of a finished execution (see README, "Exit codes"). */
export function exitCode(result: RunResult): number {
  switch (result.outcome) {
    case 'completed':
    case 'paused':
      return EXIT.ok;
    case 'stopped':
      return EXIT.interrupted;
    case 'rolled_back':
      // A rollback on request succeeded; one caused by a failure reports the failure.
      if (result.rolledBackAfterFailure !== true) return EXIT.ok;
      return result.error === undefined
        ? EXIT.failed
        : exitCodeFor(result.error.category as Parameters<typeof exitCodeFor>[0]);
    case 'failed':
      return result.error === undefined
        ? EXIT.failed
        : exitCodeFor(result.error.category as Parameters<typeof exitCodeFor>[0]);
  }
}

function leaseTimeout(value: string | undefined): number {
  const ms = parseDuration(value ?? '15s');
  if (ms === undefined || ms < 1_000)
    throw badDuration('--lease-timeout', value ?? '', 'at least 1s');
  return ms;
}

function badDuration(flag: string, value: string, extra = ''): CutoverError {
  return new CutoverError(
    'USAGE',
    'usage',
    `${flag} "${value}" is not a valid duration${extra ? ` (${extra})` : ''}.`,
    {
      location: flag,
      hint: 'Write durations like 30s, 5m or 2h.',
    },
  );
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
