import cliProgress from 'cli-progress';
import type { EventRecord } from '../store/index.js';
import type { StepProgress } from '../steps/index.js';
import type { CommandContext } from './command-context.js';
import { eventLine, progressText } from './format-run.js';

/** Live output of a running run: event lines, and a progress bar on a TTY (plain lines otherwise). */
export interface LiveOutput {
  onEvent(event: EventRecord): void;
  onProgress(stepId: string, progress: StepProgress): void;
  /** Removes the progress bar. */
  close(): void;
}

/**
 * Prints a run's events as they happen. On a TTY the running step's progress
 * is a cli-progress bar (rows done / total, rate, ETA); elsewhere a plain
 * progress line at most every 5 s. Silent with `--json`.
 */
export function createLiveOutput(
  ctx: CommandContext,
  tty = process.stdout.isTTY === true,
): LiveOutput {
  let bar: cliProgress.SingleBar | undefined;
  let barStep: string | undefined;
  let lastPlain = 0;
  const stopBar = (): void => {
    bar?.stop();
    bar = undefined;
    barStep = undefined;
  };
  return {
    onEvent(event) {
      if (ctx.json) return;
      stopBar();
      ctx.out(eventLine(event));
    },
    onProgress(stepId, progress) {
      if (ctx.json) return;
      if (!tty || progress.total === undefined || progress.total <= 0) {
        if (Date.now() - lastPlain >= 5_000) {
          lastPlain = Date.now();
          ctx.out(`  ${stepId}: ${progressText(progress)}`);
        }
        return;
      }
      const payload = {
        step: stepId,
        unit: progress.unit,
        rate:
          progress.ratePerSecond === undefined
            ? '-'
            : Math.round(progress.ratePerSecond).toLocaleString('en-US'),
      };
      if (bar === undefined || barStep !== stepId) {
        stopBar();
        bar = new cliProgress.SingleBar(
          {
            format:
              '  {step} [{bar}] {percentage}% | {value}/{total} {unit} | {rate} {unit}/s | ETA {eta_formatted}',
            clearOnComplete: true,
            hideCursor: true,
            stream: process.stdout,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.round(progress.total), Math.round(progress.done), payload);
        barStep = stepId;
      } else {
        bar.setTotal(Math.round(progress.total));
        bar.update(Math.round(progress.done), payload);
      }
    },
    close: stopBar,
  };
}
