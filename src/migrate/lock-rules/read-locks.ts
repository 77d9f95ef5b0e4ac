/** The tables a query reads, for the locks a statement takes on them. Internal to `src/migrate`. */
import type { LockMode, TableLock } from '../migration.js';
import { rangeVarName, walk } from '../sql-ast.js';
import { lockOn } from './finding.js';

/** Tables read by a query (RangeVars in FROM/USING/subqueries), minus CTE names. */
export function readLocks(value: unknown, mode: LockMode): TableLock[] {
  const ctes = new Set<string>();
  for (const n of walk(value)) {
    if ('CommonTableExpr' in n && n.CommonTableExpr.ctename !== undefined)
      ctes.add(n.CommonTableExpr.ctename);
  }
  return walkRangeVars(value)
    .filter((t) => !ctes.has(t))
    .flatMap((t) => lockOn(t, mode));
}

/** Names (`schema.table` as written) of every RangeVar in a subtree, once each, in order. */
export function walkRangeVars(value: unknown): string[] {
  const names: string[] = [];
  for (const n of walk(value)) {
    if ('RangeVar' in n) {
      const name = rangeVarName(n.RangeVar);
      if (name !== undefined && !names.includes(name)) names.push(name);
    }
  }
  return names;
}
