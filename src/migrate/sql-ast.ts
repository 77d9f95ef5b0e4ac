/**
 * Small typed helpers over the libpg-query AST (`@pgsql/types`, the JSON form
 * of PostgreSQL's own parse tree). Internal to `src/migrate`.
 */

import type { DefElem, Node, RangeVar, TypeName } from 'libpg-query';

/** The node's type name (`AlterTableStmt`, `SelectStmt`, …): the single key of a parse-tree node. */
export function nodeType(node: Node | undefined): string | undefined {
  if (node === undefined) return undefined;
  return Object.keys(node)[0];
}

/** `schema.table` (or `table`) as written in the statement. */
export function rangeVarName(rv: RangeVar | undefined): string | undefined {
  if (rv?.relname === undefined) return undefined;
  return rv.schemaname === undefined ? rv.relname : `${rv.schemaname}.${rv.relname}`;
}

/** The `String` values of a list of `String` nodes joined with `.` (qualified names). */
export function qualifiedName(nodes: readonly Node[] | undefined): string | undefined {
  if (nodes === undefined) return undefined;
  const parts: string[] = [];
  for (const n of nodes) {
    if ('String' in n && n.String.sval !== undefined) parts.push(n.String.sval);
  }
  return parts.length === 0 ? undefined : parts.join('.');
}

/** The `DefElem`s of an options/params list. */
export function defElems(nodes: readonly Node[] | undefined): DefElem[] {
  const out: DefElem[] = [];
  for (const n of nodes ?? []) if ('DefElem' in n) out.push(n.DefElem);
  return out;
}

/**
 * Whether a boolean option (`concurrently`, `full`, `create_slot`…) is on:
 * present with no argument, or with a true-ish argument (`true`, `on`, `1`).
 * Undefined when absent.
 */
export function booleanOption(
  nodes: readonly Node[] | undefined,
  name: string,
): boolean | undefined {
  const def = defElems(nodes).find((d) => d.defname?.toLowerCase() === name);
  if (def === undefined) return undefined;
  const arg = def.arg;
  if (arg === undefined) return true;
  if ('Boolean' in arg) return arg.Boolean.boolval === true;
  if ('String' in arg)
    return !['false', 'off', 'no', '0'].includes((arg.String.sval ?? '').toLowerCase());
  if ('Integer' in arg) return (arg.Integer.ival ?? 0) !== 0;
  if ('A_Const' in arg) {
    const c = arg.A_Const;
    if (c.boolval !== undefined) return c.boolval.boolval === true;
    if (c.sval !== undefined)
      return !['false', 'off', 'no', '0'].includes((c.sval.sval ?? '').toLowerCase());
    if (c.ival !== undefined) return (c.ival.ival ?? 0) !== 0;
  }
  return true;
}

/** The RangeVars of a list of `RangeVar` nodes (LOCK, TRUNCATE, VACUUM relation lists). */
export function rangeVars(nodes: readonly Node[] | undefined): RangeVar[] {
  const out: RangeVar[] = [];
  for (const n of nodes ?? []) {
    if ('RangeVar' in n) out.push(n.RangeVar);
    else if ('VacuumRelation' in n && n.VacuumRelation.relation !== undefined)
      out.push(n.VacuumRelation.relation);
  }
  return out;
}

/**
 * Every node of a subtree, depth first (the node itself first). Used to find
 * function calls in default expressions and relations read by a query.
 */
export function* walk(value: unknown): Generator<Node> {
  if (Array.isArray(value)) {
    for (const item of value) yield* walk(item);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const keys = Object.keys(value);
  const first = keys[0];
  // A node is an object with one key whose name starts with an upper-case letter.
  if (keys.length === 1 && first !== undefined && /^[A-Z]/.test(first)) {
    yield value as Node;
  }
  for (const key of keys) yield* walk((value as Record<string, unknown>)[key]);
}

/** The last name of a type name (`pg_catalog.varchar` → `varchar`), as written. */
export function typeNameOf(t: TypeName | undefined): string | undefined {
  const names = (t?.names ?? []).flatMap((n) =>
    'String' in n && n.String.sval !== undefined ? [n.String.sval] : [],
  );
  return names[names.length - 1];
}
