import { z } from 'zod';
import { durationSchema, formatDuration } from '../plan/duration.js';
import type { StepKind } from './step-kind.js';

/** Spec of a `wait` step: `wait: { for: 30m }`. */
export interface WaitSpec {
  /** How long to wait, ms (written like `30s`, `10m`, `2h`). */
  for: number;
}

/** Output of a `wait` step. */
export interface WaitOutput {
  /** When the wait ended (ISO 8601). */
  deadline: string;
  /** Planned duration, ms. */
  forMs: number;
}

interface WaitCheckpoint {
  /** Deadline, ms since the epoch (clock time). */
  deadline: number;
}

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}

/**
 * `wait: { for: 30m }` — waits for a duration (e.g. to watch metrics after a
 * rollout step). The deadline is persisted in the step's checkpoint when the
 * wait starts, so after a crash `resume` waits only for what is left (and not
 * at all when the deadline has passed). A stop request ends the wait at once
 * (the deadline is kept). Nothing to compensate.
 */
export function createWaitStepKind(): StepKind<WaitSpec, WaitOutput> {
  return {
    name: 'wait',
    schema: z.strictObject({ for: durationSchema() }),
    describe(spec) {
      return Promise.resolve({
        summary: `Wait ${formatDuration(spec.for)} (the deadline is persisted; resume waits only for what is left).`,
        compensation: 'none (nothing to undo)',
      });
    },
    async apply(spec, ctx) {
      let checkpoint = await ctx.checkpoint.load<WaitCheckpoint>();
      if (checkpoint === undefined) {
        checkpoint = { deadline: ctx.clock.now() + spec.for };
        await ctx.checkpoint.save(checkpoint);
        await ctx.log('wait.started', {
          forMs: spec.for,
          until: new Date(checkpoint.deadline).toISOString(),
        });
      }
      const deadline = checkpoint.deadline;
      ctx.progress({
        done: Math.max(0, spec.for - (deadline - ctx.clock.now())),
        total: spec.for,
        unit: 'ms',
      });
      for (;;) {
        const left = deadline - ctx.clock.now();
        if (left <= 0) break;
        await ctx.clock.sleep(left, ctx.signal);
      }
      ctx.progress({ done: seconds(spec.for), total: seconds(spec.for), unit: 's' });
      return { deadline: new Date(deadline).toISOString(), forMs: spec.for };
    },
  };
}
