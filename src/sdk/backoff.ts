import { backoffDelay } from '../retry/index.js';

/** Reconnect delays of the flag client (ms). */
export interface ReconnectBackoff {
  /** Delay ceiling before the first retry, in ms. Default 250. */
  initialMs?: number;
  /** Largest delay ceiling, in ms. Default 30 000. */
  maxMs?: number;
}

/** Defaults of {@link ReconnectBackoff}. */
export const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 30_000 } as const;

/**
 * The delay before reconnect number `attempt` (0 for the first retry):
 * {@link backoffDelay} (exponential backoff with equal jitter) with the
 * client's defaults, so clients that lost the same server do not come back in
 * lockstep.
 *
 * @param attempt - retries already made since the last success (≥ 0)
 * @param random - uniform in [0, 1)
 * @returns the delay in ms, in [ceiling/2, ceiling)
 */
export function reconnectDelay(
  attempt: number,
  options: ReconnectBackoff,
  random: () => number,
): number {
  return backoffDelay(attempt, {
    baseMs: options.initialMs ?? DEFAULT_BACKOFF.initialMs,
    maxMs: options.maxMs ?? DEFAULT_BACKOFF.maxMs,
    random,
  });
}
