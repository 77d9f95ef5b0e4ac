import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../steps/step-kind.js';

/**
 * The real clock: `Date.now()` and `setTimeout`. `sleep` rejects with the
 * signal's reason when the signal aborts (immediately if already aborted).
 */
export function createSystemClock(): Clock {
  return {
    now: () => Date.now(),
    async sleep(ms: number, signal?: AbortSignal): Promise<void> {
      if (signal?.aborted) throw signal.reason;
      try {
        await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        throw error;
      }
    },
  };
}
