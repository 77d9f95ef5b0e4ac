/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter, in ms. */
  baseMs: number;
  /** Upper bound of any delay, in ms. */
  maxMs: number;
  /** Uniform random number in [0, 1) (inject for deterministic tests). */
  random: () => number;
}

/**
 * Delay before retry number `retry` (0-based) with exponential backoff and
 * "equal jitter": `d = min(maxMs, baseMs · 2^retry)`, result uniform in
 * `[d/2, d)`. Source: Marc Brooker, "Exponential Backoff And Jitter", AWS
 * Architecture Blog (2015). Equal jitter keeps a floor of half the delay, so a
 * retry never hammers a lock immediately, while the random half spreads
 * competing migrators apart.
 *
 * @returns the delay in whole ms, within `[0, maxMs]`.
 */
export function backoffDelay(retry: number, options: BackoffOptions): number {
  const exp = options.baseMs * 2 ** Math.max(0, retry);
  const capped = Math.max(0, Math.min(options.maxMs, exp));
  const r = Math.min(Math.max(options.random(), 0), 1);
  return Math.floor(capped / 2 + (r * capped) / 2);
}
