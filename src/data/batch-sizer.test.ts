import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBatchSizer } from './batch-sizer.js';

describe('createBatchSizer', () => {
  it('keeps every size within [min, max] and grows at most 2x per batch', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 200_000 }),
            fc.double({ min: 0, max: 60_000, noNaN: true }),
          ),
          {
            maxLength: 50,
          },
        ),
        (min, span, initial, observations) => {
          const max = min + span;
          const sizer = createBatchSizer({ initial, targetMs: 200, min, max });
          let previous = sizer.size;
          expect(previous).toBeGreaterThanOrEqual(min);
          expect(previous).toBeLessThanOrEqual(max);
          for (const [rows, ms] of observations) {
            const next = sizer.observe(rows, ms);
            expect(next).toBeGreaterThanOrEqual(min);
            expect(next).toBeLessThanOrEqual(max);
            expect(next).toBeLessThanOrEqual(Math.max(min, Math.round(previous * 2)));
            previous = next;
          }
        },
      ),
    );
  });

  it('converges to the size whose batches take the target duration', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 5, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.integer({ min: 1, max: 50_000 }),
        (msPerRow, fixedMs, initial) => {
          const sizer = createBatchSizer({ initial, targetMs: 200, min: 1, max: 1_000_000 });
          for (let i = 0; i < 200; i++) sizer.observe(sizer.size, fixedMs + msPerRow * sizer.size);
          const expected = Math.max(1, (200 - fixedMs) / msPerRow);
          expect(Math.abs(sizer.size - expected)).toBeLessThanOrEqual(Math.max(1, expected * 0.02));
        },
      ),
    );
  });

  it('shrinks at once after a slow batch', () => {
    const sizer = createBatchSizer({ initial: 1000, targetMs: 200, min: 10, max: 100_000 });
    expect(sizer.observe(1000, 200)).toBe(1000);
    // 5x slower: mean 0.2 → 0.4 ms/row, deviation 0 → 0.2: 200 / 0.6 ≈ 333 rows.
    expect(sizer.observe(1000, 1000)).toBe(333);
  });

  it('keeps a margin for noisy batches: batches one deviation slower than usual still fit the target', () => {
    const sizer = createBatchSizer({ initial: 1000, targetMs: 200, min: 10, max: 1_000_000 });
    // Per-row time alternating 0.8 and 1.2 ms: mean 1, mean deviation ≈ 0.2.
    for (let i = 0; i < 200; i++) sizer.observe(sizer.size, sizer.size * (i % 2 === 0 ? 0.8 : 1.2));
    expect(sizer.size * 1.2).toBeLessThanOrEqual(205);
    expect(sizer.size).toBeGreaterThan(150);
  });

  it('keeps the size fixed when the target is 0', () => {
    const sizer = createBatchSizer({ initial: 500, targetMs: 0, min: 10, max: 100_000 });
    expect(sizer.observe(500, 5000)).toBe(500);
    expect(sizer.observe(500, 1)).toBe(500);
  });
});
