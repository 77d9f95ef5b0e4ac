import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff-delay.js';

describe('backoffDelay', () => {
  it('stays within [d/2, d) where d = min(max, base·2^retry) (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 60000 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (retry, base, max, r) => {
          const d = Math.min(max, base * 2 ** retry);
          const delay = backoffDelay(retry, { baseMs: base, maxMs: max, random: () => r });
          expect(delay).toBeGreaterThanOrEqual(Math.floor(d / 2));
          expect(delay).toBeLessThanOrEqual(d);
        },
      ),
    );
  });

  it('grows with the retry number until the cap', () => {
    const opts = { baseMs: 100, maxMs: 1000, random: () => 0 };
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, opts))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
  });
});
