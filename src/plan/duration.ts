import ms from 'ms';
import { z } from 'zod';

/**
 * Parses a duration: a number of milliseconds, or a string like `500ms`,
 * `30s`, `5m`, `2h`, `1d` (the `ms` package's format; a bare numeric string
 * means milliseconds).
 *
 * @returns Milliseconds (≥ 0), or undefined when `value` is not a duration.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const parsed = ms(trimmed as ms.StringValue) as number | undefined;
  return typeof parsed === 'number' && Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
}

/** Formats ms as a short human duration (`1.5s`, `30m`, `2h`), using the `ms` package. */
export function formatDuration(milliseconds: number): string {
  return ms(Math.round(milliseconds));
}

/**
 * Zod schema of a duration (see {@link parseDuration}); the parsed value is ms.
 * Error message: `expected a duration like 30s, 5m or 2h`.
 */
export function durationSchema(): z.ZodType<number, string | number> {
  return z
    .union([z.number(), z.string()], { error: 'expected a duration like 30s, 5m or 2h' })
    .transform((value, ctx) => {
      const parsed = parseDuration(value);
      if (parsed === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration like 30s, 5m or 2h' });
        return z.NEVER;
      }
      return parsed;
    });
}
