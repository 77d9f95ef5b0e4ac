import pg from 'pg';
import type { SqlStatement } from './migration.js';
import type { StatementReport, TableEstimate } from './migrator-types.js';
import { analyzeStatement } from './source-functions.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * The dry-run view of a script's statements: for each, the lock it takes and
 * whether it rewrites the table (from the lock rule table of
 * `analyzeStatement`), and the estimated rows of each table it locks from
 * `pg_class.reltuples` (one query for the whole script). Read-only.
 */
export async function describeStatements(
  db: Queryable,
  statements: readonly SqlStatement[],
  location: (line: number, column: number) => string,
): Promise<StatementReport[]> {
  const analyses = statements.map((s) => analyzeStatement(s));
  const tables = [...new Set(analyses.flatMap((a) => a.tables))];
  const estimates = await estimateRows(db, tables);
  return statements.map((s, index) => {
    const analysis = analyses[index] ?? analyzeStatement(s);
    return {
      ...analysis,
      index,
      sql: s.sql,
      location: location(s.line, s.column),
      ...(s.nonTransactional === undefined ? {} : { nonTransactional: s.nonTransactional }),
      tableEstimates: analysis.tables.map(
        (t) => estimates.get(t) ?? { table: t, estimatedRows: null, exists: false },
      ),
    };
  });
}

/**
 * Estimated rows of `tables` (names as written, `schema.table` or `table`)
 * from `pg_class.reltuples`: null when the table does not exist or was never
 * vacuumed/analyzed (reltuples = -1 since PostgreSQL 14).
 */
export async function estimateRows(
  db: Queryable,
  tables: readonly string[],
): Promise<Map<string, TableEstimate>> {
  const out = new Map<string, TableEstimate>();
  if (tables.length === 0) return out;
  const quoted = tables.map((t) => {
    const dot = t.indexOf('.');
    return dot === -1
      ? pg.escapeIdentifier(t)
      : `${pg.escapeIdentifier(t.slice(0, dot))}.${pg.escapeIdentifier(t.slice(dot + 1))}`;
  });
  const { rows } = await db.query<{ i: number; reltuples: number | null; exists: boolean }>(
    `select t.i, c.reltuples, c.oid is not null as exists
       from unnest($1::text[]) with ordinality as t(name, i)
       left join pg_class c on c.oid = to_regclass(t.name)`,
    [quoted],
  );
  for (const row of rows) {
    const table = tables[Number(row.i) - 1];
    if (table === undefined) continue;
    const n = row.reltuples === null ? null : Number(row.reltuples);
    out.set(table, {
      table,
      estimatedRows: n === null || n < 0 ? null : Math.round(n),
      exists: row.exists,
    });
  }
  return out;
}
