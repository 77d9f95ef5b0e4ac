/** Options of {@link createBatchSizer}. */
export interface BatchSizerOptions {
  /** First batch size, in rows. */
  initial: number;
  /** Target duration of one batch, in ms. 0 disables adaptation (the size stays `initial`). */
  targetMs: number;
  /** Smallest batch, in rows. */
  min: number;
  /** Largest batch, in rows. */
  max: number;
  /**
   * Weight of the newest observation in the moving averages of the time per
   * row and of its deviation, in (0, 1]. Default 0.25 (RFC 6298's 1/4 for the deviation).
   */
  smoothing?: number;
  /**
   * How many mean deviations of the time per row a batch must absorb and
   * still take at most `targetMs`. Default 1; 0 sizes on the mean alone.
   */
  deviations?: number;
  /** Largest growth factor from one batch to the next. Default 2. */
  maxGrowth?: number;
}

/** Adapts a batch size toward a target batch duration. */
export interface BatchSizer {
  /** The size of the next batch, in rows. */
  readonly size: number;
  /**
   * Records that a batch of `rows` took `ms` and returns the next size.
   * Empty batches change nothing.
   */
  observe(rows: number, ms: number): number;
}

/**
 * A batch sizer in the manner of pt-online-schema-change's `--chunk-time`
 * (Percona Toolkit: "adjust the chunk size dynamically so each data-copy query
 * takes this long to execute"), with the variance-aware estimator TCP uses
 * for its retransmission timer (Jacobson/Karels, RFC 6298: SRTT and RTTVAR):
 * it keeps exponentially weighted moving averages of the time per row `m`
 * and of its mean deviation `d` (weight `smoothing` for the newest batch) and
 * sizes the next batch to `targetMs / (m + deviations × d)` — so a batch that
 * runs one mean deviation slower than usual still takes about `targetMs` —,
 * growing at most `maxGrowth`× per batch (a fast batch may be a fluke) but
 * shrinking at once (a slow batch holds locks), always within `[min, max]`.
 *
 * With a steady cost (no deviation), a fixed cost per batch `c` and a cost
 * per row `p`, the size converges to `(targetMs − c) / p`, where a batch takes
 * `targetMs`; with noisy costs, batches take less than `targetMs` on average.
 */
export function createBatchSizer(options: BatchSizerOptions): BatchSizer {
  const min = Math.max(1, Math.floor(options.min));
  const max = Math.max(min, Math.floor(options.max));
  const clamp = (n: number) => Math.min(max, Math.max(min, Math.round(n)));
  const smoothing = Math.min(1, Math.max(0.01, options.smoothing ?? 0.25));
  const deviations = Math.max(0, options.deviations ?? 1);
  const maxGrowth = Math.max(1, options.maxGrowth ?? 2);
  let size = clamp(options.initial);
  let msPerRow: number | undefined;
  let deviation = 0;
  return {
    get size() {
      return size;
    },
    observe(rows, ms) {
      if (options.targetMs <= 0 || rows <= 0 || !Number.isFinite(ms)) return size;
      const observed = Math.max(ms, 0.001) / rows;
      if (msPerRow === undefined) {
        msPerRow = observed;
      } else {
        deviation = (1 - smoothing) * deviation + smoothing * Math.abs(observed - msPerRow);
        msPerRow = (1 - smoothing) * msPerRow + smoothing * observed;
      }
      const ideal = options.targetMs / (msPerRow + deviations * deviation);
      size = clamp(Math.min(ideal, size * maxGrowth));
      return size;
    },
  };
}
