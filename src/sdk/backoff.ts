/** Reconnect delays of the flag client (ms). */
export interface BackoffOptions {
  /** Delay ceiling before the first retry, in ms. Default 250. */
  initialMs?: number;
  /** Largest delay ceiling, in ms. Default 30 000. */
  maxMs?: number;
}

/** Defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 30_000 } as const;

/**
 * The delay before retry number `attempt` (0 for the first retry): exponential
 * backoff with "equal jitter" — half of the ceiling `min(maxMs, initialMs·2^attempt)`
 * plus a random share of the other half, so delays grow but clients that lost
 * the same server do not come back in lockstep. Source: Marc Brooker,
 * "Exponential Backoff And Jitter", AWS Architecture Blog (2015).
 *
 * @param attempt - retries already made since the last success (≥ 0)
 * @param random - uniform in [0, 1)
 * @returns the delay in ms, in [ceiling/2, ceiling)
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number,
): number {
  const initial = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const max = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const ceiling = Math.min(max, initial * 2 ** Math.min(Math.max(0, attempt), 30));
  return ceiling / 2 + random() * (ceiling / 2);
}
