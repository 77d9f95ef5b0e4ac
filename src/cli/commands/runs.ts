import type { Command } from 'commander';
import { CutoverError } from '../../errors/index.js';
import { planLeaseResource } from '../../runner/index.js';
import type { ControlStore, RunRecord, StepRecord } from '../../store/index.js';
import type { CommandContext } from '../command-context.js';
import { EXIT } from '../exit-codes.js';
import {
  dateTime,
  eventJson,
  eventLine,
  runJson,
  runState,
  runsTable,
  shortId,
  stepsTable,
} from '../format-run.js';
import { createLiveOutput } from '../live-output.js';
import { runCommand } from '../run-command.js';
import { connectForRun } from './run.js';

interface Flags {
  json?: boolean;
  databaseUrl?: string;
  file?: string;
}

const DB_HELP = 'target database (default: DATABASE_URL, the plan, or the embedded PostgreSQL)';
const FILE_HELP = 'plan file whose `database` to use (default ./cutover.yaml when it exists)';

/** `cutover runs`, `status`, `logs`. */
export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('List runs, newest first.')
    .option('--plan <name>', 'only runs of this plan')
    .option('--limit <n>', 'how many', '20')
    .option('-f, --file <plan>', FILE_HELP)
    .option('--database-url <url>', DB_HELP)
    .option('--json', 'print one JSON document')
    .action(async (flags: Flags & { plan?: string; limit: string }) => {
      await runCommand(flags, async (ctx) => {
        if (!/^\d+$/.test(flags.limit) || Number(flags.limit) < 1) {
          throw new CutoverError(
            'USAGE',
            'usage',
            `--limit must be a positive integer (got "${flags.limit}").`,
            { location: '--limit', hint: 'e.g. --limit 50' },
          );
        }
        const limit = Number(flags.limit);
        const control = await connectForRun(ctx, flags);
        const runs = await control.store.listRuns({
          ...(flags.plan === undefined ? {} : { planName: flags.plan }),
          limit,
        });
        if (ctx.json) ctx.printJson({ ok: true, runs: runs.map((r) => runJson(r)) });
        else if (runs.length === 0) ctx.out('No runs yet. Start one with: cutover run [plan file]');
        else ctx.out(runsTable(runs));
        return EXIT.ok;
      });
    });

  program
    .command('status')
    .description(
      'Show a run and its steps; on a terminal, follow a running run with a live progress bar (plain lines otherwise).',
    )
    .argument(
      '[run]',
      'run id or unique prefix (default: the most recent unfinished run, else the latest)',
    )
    .option('--once', 'print once, do not follow a running run')
    .option('-f, --file <plan>', FILE_HELP)
    .option('--database-url <url>', DB_HELP)
    .option('--json', 'print one JSON document')
    .action(async (ref: string | undefined, flags: Flags & { once?: boolean }) => {
      await runCommand(flags, async (ctx) => {
        const control = await connectForRun(ctx, flags);
        const run = await control.store.findRun(ref);
        const lease = await control.store.getLease(planLeaseResource(run.planName));
        const steps = await control.store.getSteps(run.id);
        if (ctx.json) {
          ctx.printJson({
            ok: true,
            run: runJson(run, steps, lease?.runId === run.id ? lease : undefined),
          });
          return EXIT.ok;
        }
        printStatus(ctx, run, steps, runState(run, lease));
        const live =
          run.status === 'running' &&
          lease !== undefined &&
          !lease.expired &&
          lease.runId === run.id;
        if (live && flags.once !== true && process.stdout.isTTY) {
          await follow(ctx, control.store, run);
        }
        return EXIT.ok;
      });
    });

  program
    .command('logs')
    .description("Print a run's audit log (every state change with actor and time).")
    .argument(
      '[run]',
      'run id or unique prefix (default: the most recent unfinished run, else the latest)',
    )
    .option('-f, --file <plan>', FILE_HELP)
    .option('--database-url <url>', DB_HELP)
    .option('--json', 'print one JSON document')
    .action(async (ref: string | undefined, flags: Flags) => {
      await runCommand(flags, async (ctx) => {
        const control = await connectForRun(ctx, flags);
        const run = await control.store.findRun(ref);
        const events = await control.store.listEvents(run.id);
        if (ctx.json) {
          ctx.printJson({ ok: true, run: run.id, events: events.map(eventJson) });
        } else {
          ctx.out(`Audit log of run ${run.id} (plan ${run.planName}, ${run.environment})`);
          for (const event of events) {
            ctx.out(`${dateTime(event.at).slice(0, 10)} ${eventLine(event)}  [${event.actor}]`);
          }
        }
        return EXIT.ok;
      });
    });
}

function printStatus(
  ctx: CommandContext,
  run: RunRecord,
  steps: StepRecord[],
  state: string,
): void {
  ctx.out(`Run ${run.id}`);
  ctx.out(`  plan:        ${run.planName}${run.planFile ? ` (${run.planFile})` : ''}`);
  ctx.out(`  environment: ${run.environment}`);
  ctx.out(`  status:      ${state}`);
  ctx.out(`  started:     ${dateTime(run.createdAt)} by ${run.createdBy}`);
  if (run.finishedAt) ctx.out(`  finished:    ${dateTime(run.finishedAt)}`);
  if (run.error) ctx.out(`  error:       ${run.error.code}: ${run.error.message}`);
  ctx.out(stepsTable(steps, Date.now()));
  const id = shortId(run.id);
  if (run.status === 'paused' || run.status === 'failed') {
    ctx.out(
      run.mode === 'rollback'
        ? `Continue the rollback with: cutover rollback ${id}`
        : `Continue with: cutover resume ${id} — or undo with: cutover rollback ${id}`,
    );
  }
  if (steps.some((s) => s.kind === 'approve' && s.status === 'running')) {
    ctx.out(`Waiting for approval: cutover approve ${id}`);
  }
}

/** Follows a running run: its new events as lines, the running step's progress as a bar. */
async function follow(ctx: CommandContext, store: ControlStore, run: RunRecord): Promise<void> {
  const live = createLiveOutput(ctx);
  let lastEvent = (await store.listEvents(run.id)).at(-1)?.id ?? 0;
  let stopped = false;
  const onSigint = (): void => {
    stopped = true;
  };
  process.on('SIGINT', onSigint);
  try {
    while (!stopped) {
      for (const event of await store.listEvents(run.id, { afterId: lastEvent })) {
        live.onEvent(event);
        lastEvent = event.id;
      }
      const current = await store.getRun(run.id);
      if (current === undefined || current.status !== 'running') break;
      const running = (await store.getSteps(run.id)).find(
        (s) => (s.status === 'running' || s.status === 'compensating') && s.progress !== undefined,
      );
      if (running?.progress) live.onProgress(running.stepId, running.progress);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    process.off('SIGINT', onSigint);
    live.close();
  }
}
