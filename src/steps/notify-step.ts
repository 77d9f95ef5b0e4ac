import { z } from 'zod';
import { CutoverError } from '../errors/index.js';
import { postWebhook, safeOrigin } from './post-webhook.js';
import type { StepKind } from './step-kind.js';

/** Spec of a `notify` step. */
export interface NotifySpec {
  /** Webhook URL (Slack incoming webhook or any HTTP endpoint; use `${ENV}` for secrets). */
  webhook: string;
  /** Text to send. Default: `cutover run <id>: step <step> reached`. */
  message?: string;
  /** Fail the step (and trigger `onFailure`) when delivery fails. Default false: record a `notify.failed` event and go on. */
  failOnError: boolean;
}

/** Output of a `notify` step. */
export interface NotifyOutput {
  sent: boolean;
  /** HTTP status of the delivery, when sent. */
  status?: number;
  /** Why it was not sent. */
  error?: string;
}

/** Options of {@link createNotifyStepKind}. */
export interface NotifyStepKindOptions {
  /** `fetch` to use. Default the global one. */
  fetch?: typeof fetch;
  /** Per-attempt timeout, ms. Default 5 000. */
  timeoutMs?: number;
}

/**
 * `notify: { webhook, message? }` — POSTs a JSON event to a webhook:
 * `{ text, event: "step.notify", run: { id, environment }, step: { id } }`;
 * `text` makes it a valid Slack incoming-webhook message. Retries network
 * errors and 5xx. Delivered at least once: a completion marker in the
 * checkpoint keeps a resumed run from sending it again, except when the
 * process died between delivery and marker. Nothing to compensate.
 */
export function createNotifyStepKind(
  options: NotifyStepKindOptions = {},
): StepKind<NotifySpec, NotifyOutput> {
  return {
    name: 'notify',
    schema: z.strictObject({
      webhook: z
        .string()
        .refine((v) => /^https?:\/\/\S+$/i.test(v), { error: 'expected an http(s) URL' }),
      message: z.string().min(1).optional(),
      failOnError: z.boolean().default(false),
    }),
    describe(spec) {
      return Promise.resolve({
        summary: `POST a notification to ${safeOrigin(spec.webhook)}${spec.message ? `: "${spec.message}"` : ''}.`,
        compensation: 'none (a sent message cannot be unsent)',
      });
    },
    async apply(spec, ctx) {
      const done = await ctx.checkpoint.load<NotifyOutput>();
      if (done !== undefined) return done;
      const text =
        spec.message ?? `[cutover] run ${ctx.runId.slice(0, 8)}: step ${ctx.stepId} reached`;
      let output: NotifyOutput;
      try {
        const delivery = await postWebhook(
          spec.webhook,
          {
            text,
            event: 'step.notify',
            run: { id: ctx.runId, environment: ctx.environment },
            step: { id: ctx.stepId },
            actor: ctx.actor,
            at: new Date(ctx.clock.now()).toISOString(),
          },
          {
            signal: ctx.signal,
            sleep: (ms, signal) => ctx.clock.sleep(ms, signal),
            ...(options.fetch ? { fetch: options.fetch } : {}),
            ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          },
        );
        output = { sent: true, status: delivery.status };
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (spec.failOnError) throw error;
        const message = error instanceof CutoverError ? error.message : String(error);
        await ctx.log('notify.failed', { webhook: safeOrigin(spec.webhook), error: message });
        output = { sent: false, error: message };
      }
      await ctx.checkpoint.save(output);
      return output;
    },
  };
}
