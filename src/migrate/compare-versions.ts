import type { MigrationLayout } from './migration.js';

/** Flyway versions: numeric parts separated by `.` or `_` (`1`, `1.2.3`, `2_1`, `001.10`). */
const FLYWAY_VERSION = /^\d+(?:[._]\d+)*$/;
/** Every other layout: an unsigned integer (`0001`, `1`, `20240101120000`). */
const INTEGER_VERSION = /^\d+$/;

/** Whether `version` is well-formed for `layout` (see {@link compareVersions}). */
export function isValidVersion(version: string, layout: MigrationLayout): boolean {
  return (layout === 'flyway' ? FLYWAY_VERSION : INTEGER_VERSION).test(version);
}

/**
 * Compares two migration versions the way the layout's own tool orders them.
 *
 * - `flyway`: dotted numeric, as Flyway's `MigrationVersion`: the version is
 *   split on `.` and `_` (Flyway documents `_` as a part separator, so `2_1`
 *   is `2.1`), parts are compared numerically (arbitrary size, leading zeros
 *   ignored) left to right, and missing parts count as 0, so `1.10 > 1.9`
 *   and `1 == 1.0 == 1_0`.
 * - `native` (dbmate), `golang-migrate`, `prisma` (timestamp prefix),
 *   `typescript`: the version is an unsigned integer compared numerically
 *   (arbitrary size; `0002 == 2`, `10 > 9`).
 *
 * Returns a negative number when `a` sorts first, 0 when both are the same
 * version (two files with equal versions are duplicates), positive otherwise.
 * It is a total order: a string that is not a valid version for the layout
 * sorts after every valid one, and invalid ones compare by code unit.
 */
export function compareVersions(a: string, b: string, layout: MigrationLayout): number {
  const validA = isValidVersion(a, layout);
  const validB = isValidVersion(b, layout);
  if (!validA || !validB) {
    if (validA) return -1;
    if (validB) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const partsA = a.split(/[._]/);
  const partsB = b.split(/[._]/);
  const length = Math.max(partsA.length, partsB.length);
  for (let i = 0; i < length; i++) {
    const diff = compareDigits(partsA[i] ?? '0', partsB[i] ?? '0');
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Compares two digit strings numerically without converting them (any length). */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}
