/**
 * The intermediate result of a lock rule (a {@link Finding}), how findings
 * combine, and how they become a `StatementAnalysis`. Internal to `src/migrate`.
 */
import type { LockMode, StatementAnalysis, TableLock } from '../migration.js';
import { LOCK_MODES, describeLockMode, strongerLock } from './lock-modes.js';

/** The intermediate result of one rule. */
export interface Finding {
  operation: string;
  /** No rule matched: ACCESS EXCLUSIVE is assumed. */
  unknown?: boolean;
  locks: TableLock[];
  rewrites: boolean;
  scans: boolean;
  notes: string[];
  advice: string[];
}

/** A finding with no locks, rewrite, scan, notes or advice. */
export function emptyFinding(operation: string): Finding {
  return { operation, locks: [], rewrites: false, scans: false, notes: [], advice: [] };
}

/** A finding for `operation` holding `locks`; `extra` defaults to no rewrite, no scan, no notes or advice. */
export function finding(
  operation: string,
  locks: TableLock[],
  extra: Partial<Omit<Finding, 'operation' | 'locks'>> = {},
): Finding {
  return {
    operation,
    locks,
    rewrites: extra.rewrites ?? false,
    scans: extra.scans ?? false,
    notes: extra.notes ?? [],
    advice: extra.advice ?? [],
  };
}

/** `[{ table, mode }]`, or `[]` when the table is not named (e.g. a database-wide VACUUM). */
export function lockOn(table: string | undefined, mode: LockMode): TableLock[] {
  return table === undefined ? [] : [{ table, mode }];
}

/** Combines two findings: union of locks (strongest per table), OR of rewrites/scans. */
export function merge(a: Finding, b: Finding): Finding {
  const locks = [...a.locks];
  for (const lock of b.locks) {
    const existing = locks.find((l) => l.table === lock.table);
    if (existing === undefined) locks.push({ ...lock });
    else existing.mode = strongerLock(existing.mode, lock.mode);
  }
  const unique = (xs: string[]): string[] => [...new Set(xs)];
  return {
    operation: [a.operation, b.operation].filter((o) => o !== '').join('; '),
    ...(a.unknown === true || b.unknown === true ? { unknown: true } : {}),
    locks,
    rewrites: a.rewrites || b.rewrites,
    scans: a.scans || b.scans,
    notes: unique([...a.notes, ...b.notes]),
    advice: unique([...a.advice, ...b.advice]),
  };
}

/**
 * The public `StatementAnalysis` of a finding: the strongest lock (ACCESS
 * EXCLUSIVE when no rule matched), the tables, and what the locks block in words.
 */
export function toAnalysis(f: Finding): StatementAnalysis {
  const strongest = f.locks.reduce<LockMode>((m, l) => strongerLock(m, l.mode), 'NONE');
  const lock = f.unknown === true ? 'ACCESS EXCLUSIVE' : strongest;
  const byMode = new Map<LockMode, string[]>();
  for (const l of f.locks) byMode.set(l.mode, [...(byMode.get(l.mode) ?? []), l.table]);
  const modes = [...byMode.keys()].sort((x, y) => LOCK_MODES.indexOf(y) - LOCK_MODES.indexOf(x));
  const known =
    modes.length === 0
      ? 'blocks nothing'
      : modes
          .map((m) => `${describeLockMode(m)} on ${(byMode.get(m) ?? []).join(', ')}`)
          .join('; ');
  const blocks =
    f.unknown === true ? 'may block reads and writes (no lock rule for this statement)' : known;
  const analysis: StatementAnalysis = {
    operation: f.operation,
    lock,
    locks: f.locks,
    rewrites: f.rewrites,
    scans: f.scans,
    tables: f.locks.map((l) => l.table),
    blocks,
    notes: f.notes,
  };
  if (f.advice.length > 0) analysis.advice = f.advice.join(' ');
  return analysis;
}
