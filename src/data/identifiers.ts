import type pg from 'pg';
import { CutoverError } from '../errors/index.js';

/** Something that can run a query: a pool or a checked-out client. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * Quotes a PostgreSQL identifier (`"name"`, doubling embedded quotes), as
 * `quote_ident` does but always quoting.
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A table resolved through the catalog. */
export interface TableRef {
  /** Schema name (unquoted). */
  schema: string;
  /** Table name (unquoted). */
  name: string;
  /** `schema.name`, unquoted (for messages and metadata). */
  qualified: string;
  /** `"schema"."name"`, safe to splice into SQL. */
  sql: string;
  /** `pg_class.oid`. */
  oid: number;
}

/**
 * Resolves a table name as written by a user (`users`, `public.users`,
 * `"Weird"."Name"`; resolved with the connection's `search_path`, as
 * PostgreSQL's `to_regclass` does) to its schema and name.
 *
 * @throws CutoverError `TABLE_NOT_FOUND` (not_found) when no such table exists.
 */
export async function resolveTable(
  db: Queryable,
  name: string,
  location?: string,
): Promise<TableRef> {
  let rows: { oid: number; schema: string; name: string; kind: string }[];
  try {
    ({ rows } = await db.query<{ oid: number; schema: string; name: string; kind: string }>(
      `select c.oid::int as oid, n.nspname as schema, c.relname as name, c.relkind::text as kind
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.oid = to_regclass($1)`,
      [name],
    ));
  } catch (error) {
    // to_regclass raises on a syntactically invalid name (e.g. unbalanced quotes).
    throw new CutoverError('TABLE_NOT_FOUND', 'not_found', `"${name}" is not a valid table name.`, {
      ...(location === undefined ? {} : { location }),
      hint: 'Write the table as name or schema.name (quote mixed-case names with double quotes).',
      cause: error,
    });
  }
  const row = rows[0];
  if (row === undefined || !['r', 'p'].includes(row.kind)) {
    throw new CutoverError(
      'TABLE_NOT_FOUND',
      'not_found',
      `Table "${name}" does not exist${row === undefined ? '' : ' (it is not a table)'}.`,
      {
        ...(location === undefined ? {} : { location }),
        hint: 'Check the table name and schema (and that the migration creating it ran first).',
      },
    );
  }
  return {
    schema: row.schema,
    name: row.name,
    qualified: `${row.schema}.${row.name}`,
    sql: `${quoteIdent(row.schema)}.${quoteIdent(row.name)}`,
    oid: row.oid,
  };
}

/** A column of a table, as the catalog describes it. */
export interface ColumnInfo {
  name: string;
  /** `format_type(atttypid, atttypmod)`, e.g. `bigint`, `character varying(20)`. */
  type: string;
  notNull: boolean;
  /** True for generated (stored) columns, which cannot be written. */
  generated: boolean;
  /** `a` (always) or `d` (by default) for identity columns, else empty. */
  identity: string;
}

/** The live columns of a table, in attribute order. */
export async function tableColumns(db: Queryable, oid: number): Promise<ColumnInfo[]> {
  const { rows } = await db.query<ColumnInfo>(
    `select attname as name, format_type(atttypid, atttypmod) as type, attnotnull as "notNull",
            attgenerated <> '' as generated, attidentity::text as identity
       from pg_attribute
      where attrelid = $1 and attnum > 0 and not attisdropped
      order by attnum`,
    [oid],
  );
  return rows;
}
