/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  /** Delay ceiling of the first retry, in ms. */
  baseMs: number;
  /** Upper bound of any delay, in ms. */
  maxMs: number;
  /** Uniform random number in [0, 1) (inject for deterministic tests). */
  random: () => number;
}

/**
 * Delay before retry number `retry` (0-based) with exponential backoff and
 * "equal jitter": ceiling `d = min(maxMs, baseMs · 2^retry)`, result uniform in
 * `[d/2, d)`. Source: Marc Brooker, "Exponential Backoff And Jitter", AWS
 * Architecture Blog (2015). Equal jitter keeps a floor of half the delay, so a
 * retry never hammers a lock or a server immediately, while the random half
 * spreads competing clients apart. Used by the migrator's lock_timeout retries
 * and the SDK's reconnects.
 *
 * @returns the delay in ms, within `[d/2, d]` (never negative, never above `maxMs`).
 */
export function backoffDelay(retry: number, options: BackoffOptions): number {
  const exp = options.baseMs * 2 ** Math.min(Math.max(0, retry), 30);
  const capped = Math.max(0, Math.min(options.maxMs, exp));
  const r = Math.min(Math.max(options.random(), 0), 1);
  return capped / 2 + (r * capped) / 2;
}
