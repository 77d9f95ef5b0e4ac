import { parse } from 'libpg-query';
import pg from 'pg';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The index a `CREATE [UNIQUE] INDEX CONCURRENTLY name ON table …` statement builds. */
export interface ConcurrentIndexTarget {
  /** Index name as written (unquoted). */
  index: string;
  /** Table as written, schema-qualified when the statement qualifies it (unquoted parts). */
  table: { schema?: string; name: string };
}

/**
 * The named index built by a `CREATE INDEX CONCURRENTLY` statement, or
 * undefined for any other statement (or an unnamed index, whose name the
 * server picks). Parsed with PostgreSQL's own parser (libpg-query).
 */
export async function concurrentIndexTarget(
  sql: string,
): Promise<ConcurrentIndexTarget | undefined> {
  if (!/\bconcurrently\b/i.test(sql)) return undefined;
  try {
    const result = await parse(sql);
    const node = result.stmts?.[0]?.stmt;
    if (node === undefined || !('IndexStmt' in node)) return undefined;
    const stmt = node.IndexStmt;
    const name = stmt.relation?.relname;
    if (stmt.concurrent !== true || stmt.idxname === undefined || name === undefined)
      return undefined;
    const schema = stmt.relation?.schemaname;
    return { index: stmt.idxname, table: schema === undefined ? { name } : { schema, name } };
  } catch {
    return undefined;
  }
}

/** An index found INVALID before a retry. */
export interface InvalidIndex {
  /** `schema.index`, quoted as needed. */
  qualifiedName: string;
  /** Pid of a session building it right now (`pg_stat_progress_create_index`), if any. */
  buildingPid: number | null;
}

/**
 * Looks for the index `target.index` in the schema of `target.table` and
 * returns it when it is INVALID (`pg_index.indisvalid = false`), as left by a
 * failed or cancelled `CREATE INDEX CONCURRENTLY`. Undefined when it does not
 * exist or is valid.
 */
export async function findInvalidIndex(
  db: Queryable,
  target: ConcurrentIndexTarget,
): Promise<InvalidIndex | undefined> {
  const table =
    target.table.schema === undefined
      ? pg.escapeIdentifier(target.table.name)
      : `${pg.escapeIdentifier(target.table.schema)}.${pg.escapeIdentifier(target.table.name)}`;
  const { rows } = await db.query<{
    qualified: string;
    valid: boolean;
    building_pid: number | null;
  }>(
    `select format('%I.%I', n.nspname, c.relname) as qualified, i.indisvalid as valid,
            (select p.pid from pg_stat_progress_create_index p where p.index_relid = c.oid limit 1) as building_pid
       from pg_class t
       join pg_class c on c.relnamespace = t.relnamespace and c.relname = $2 and c.relkind = 'i'
       join pg_index i on i.indexrelid = c.oid
       join pg_namespace n on n.oid = c.relnamespace
      where t.oid = to_regclass($1)`,
    [table, target.index],
  );
  const row = rows[0];
  if (row === undefined || row.valid) return undefined;
  return { qualifiedName: row.qualified, buildingPid: row.building_pid };
}
