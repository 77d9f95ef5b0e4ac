import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reconnectDelay, DEFAULT_BACKOFF } from './backoff.js';

describe('reconnect backoff', () => {
  it('stays within [ceiling/2, ceiling) where the ceiling doubles from initialMs up to maxMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, initialMs, maxMs, r) => {
          const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
          const delay = reconnectDelay(attempt, { initialMs, maxMs }, () => r);
          expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
          expect(delay).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });

  it('never shrinks the lower bound from one attempt to the next, and jitters between clients', () => {
    const low = (attempt: number) => reconnectDelay(attempt, {}, () => 0);
    for (let a = 0; a < 40; a += 1) expect(low(a + 1)).toBeGreaterThanOrEqual(low(a));
    expect(low(0)).toBe(DEFAULT_BACKOFF.initialMs / 2);
    expect(low(100)).toBe(DEFAULT_BACKOFF.maxMs / 2);
    expect(reconnectDelay(3, {}, () => 0.1)).not.toBe(reconnectDelay(3, {}, () => 0.9));
  });
});
