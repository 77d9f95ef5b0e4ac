/**
 * Lock strength: PostgreSQL's table lock modes in order and what each blocks.
 * Internal to `src/migrate` (re-exported by `analyze-statement.ts`).
 */
import type { LockMode } from '../migration.js';

/** Lock modes, weakest first; the index is the strength (PostgreSQL's LOCKMODE numbering, with NONE = 0). */
export const LOCK_MODES: readonly LockMode[] = [
  'NONE',
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
];

/** The stronger of two lock modes. */
export function strongerLock(a: LockMode, b: LockMode): LockMode {
  return LOCK_MODES.indexOf(a) >= LOCK_MODES.indexOf(b) ? a : b;
}

/**
 * What holding `mode` on a table blocks, in words (from the conflict table in
 * the PostgreSQL docs, "Explicit Locking" → "Table-Level Locks").
 */
export function describeLockMode(mode: LockMode): string {
  switch (mode) {
    case 'NONE':
      return 'blocks nothing';
    case 'ACCESS SHARE':
      return 'blocks only ACCESS EXCLUSIVE DDL (not reads or writes)';
    case 'ROW SHARE':
      return 'blocks only EXCLUSIVE and ACCESS EXCLUSIVE locks (not reads or writes)';
    case 'ROW EXCLUSIVE':
      return 'blocks only DDL and CREATE INDEX (not reads or writes)';
    case 'SHARE UPDATE EXCLUSIVE':
      return 'blocks only DDL and VACUUM (not reads or writes)';
    case 'SHARE':
    case 'SHARE ROW EXCLUSIVE':
      return 'blocks writes';
    case 'EXCLUSIVE':
      return 'blocks writes and row locks (not plain reads)';
    case 'ACCESS EXCLUSIVE':
      return 'blocks reads and writes';
  }
}
