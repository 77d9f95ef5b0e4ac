import type { Clock } from '../../src/steps/step-kind.js';

interface Sleeper {
  until: number;
  ms: number;
  resolve: () => void;
}

/**
 * A manual clock for tests: `now()` moves only with `advance(ms)`, which
 * wakes every `sleep` whose deadline has passed. `sleeps` records every
 * requested sleep (ms) so tests can check how long a resumed wait waited.
 */
export class FakeClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];
  /** Every `sleep(ms)` requested, in order. */
  readonly sleeps: number[] = [];

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = { until: this.current + ms, ms, resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener('abort', () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal.reason as Error);
      });
    });
  }

  /** Moves time forward and wakes the sleepers that are due. */
  advance(ms: number): void {
    this.current += ms;
    const due = this.sleepers.filter((s) => s.until <= this.current);
    this.sleepers = this.sleepers.filter((s) => s.until > this.current);
    for (const sleeper of due) sleeper.resolve();
  }

  /** Resolves once at least `count` sleeps are pending (polls the event loop). */
  async waitForSleepers(count = 1, timeoutMs = 20_000): Promise<void> {
    const started = Date.now();
    while (this.sleepers.length < count) {
      if (Date.now() - started > timeoutMs) throw new Error('no sleeper appeared');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
