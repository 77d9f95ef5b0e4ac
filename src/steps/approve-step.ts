import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { ControlStore } from '../store/control-store.js';
import type { StepKind } from './step-kind.js';

/** Spec of an `approve` step: `approve: {}` or `approve: { message: "Check the dashboards" }`. */
export interface ApproveSpec {
  /** What the approver should check (shown by `cutover status` and in the webhook). */
  message?: string;
}

/** Output of an `approve` step. */
export interface ApproveOutput {
  approvedBy: string;
  /** ISO 8601. */
  approvedAt: string;
  comment?: string;
  /** True when approved by `--yes`. */
  auto: boolean;
}

/** Options of {@link createApproveStepKind}. */
export interface ApproveStepKindOptions {
  /** How often the waiting step looks for the approval, ms. Default 1 000. */
  pollMs?: number;
}

/**
 * `approve: {}` — the run waits until someone runs `cutover approve <run>`
 * (recorded with the approver's name and an optional comment). A run started
 * with `--yes` approves it itself (recorded as `<user> (--yes)`). The wait
 * survives restarts (the approval is a row in `cutover.approvals`); a stop
 * request ends it. Nothing to compensate.
 */
export function createApproveStepKind(
  options: ApproveStepKindOptions = {},
): StepKind<ApproveSpec, ApproveOutput> {
  const pollMs = options.pollMs ?? 1_000;
  return {
    name: 'approve',
    schema: z.strictObject({ message: z.string().min(1).optional() }),
    describe(spec) {
      return Promise.resolve({
        summary: `Wait for an approval (\`cutover approve <run>\`, or --yes)${spec.message ? `: ${spec.message}` : ''}.`,
        compensation: 'none (nothing to undo)',
      });
    },
    async apply(spec, ctx) {
      const store = new ControlStore(ctx.pool);
      let approval = await store.getApproval(ctx.runId, ctx.stepId);
      if (approval === undefined && ctx.autoApprove === true) {
        const approver = `${ctx.actor} (--yes)`;
        approval = await store.approve(ctx.runId, ctx.stepId, approver, 'approved by --yes');
        await ctx.log('step.approved', { approvedBy: approver, auto: true });
      }
      if (approval === undefined) {
        await ctx.log('approval.waiting', {
          ...(spec.message ? { message: spec.message } : {}),
          command: `cutover approve ${ctx.runId.slice(0, 8)}`,
        });
        while (approval === undefined) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          try {
            await delay(pollMs, undefined, { signal: ctx.signal });
          } catch {
            throw ctx.signal.reason;
          }
          approval = await store.getApproval(ctx.runId, ctx.stepId);
        }
      }
      return {
        approvedBy: approval.approvedBy,
        approvedAt: approval.approvedAt.toISOString(),
        ...(approval.comment === undefined ? {} : { comment: approval.comment }),
        auto: approval.approvedBy.endsWith('(--yes)'),
      };
    },
  };
}
