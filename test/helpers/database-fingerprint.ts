import type pg from 'pg';

/**
 * What a database looks like, for comparing the end states of two runs:
 *
 * - `tables`: per table of the schemas, `rows:md5` — the md5 of
 *   `string_agg` of its rows (as row text) ordered by the primary key (by the
 *   whole row without one). Columns whose default is the current time
 *   (`now()`, `clock_timestamp()`, `CURRENT_TIMESTAMP`) are left out: they
 *   record when a row was written, which differs between any two runs.
 * - `schema`: one line per column (type, nullability, default), index (its
 *   definition, valid and ready flags — an index left invalid by an
 *   interrupted `CREATE INDEX CONCURRENTLY` shows), constraint, policy, and
 *   row-level-security flag, sorted.
 */
export interface DatabaseFingerprint {
  tables: Record<string, string>;
  schema: string[];
}

/** Fingerprint of the tables of `schemas` (default `public`); see {@link DatabaseFingerprint}. */
export async function databaseFingerprint(
  db: pg.Pool | pg.PoolClient,
  schemas: readonly string[] = ['public'],
  rename: (table: string) => string = (t) => t,
): Promise<DatabaseFingerprint> {
  const { rows: tables } = await db.query<{ oid: number; schema: string; name: string }>(
    `select c.oid::int as oid, n.nspname as schema, c.relname as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname = any($1)
      order by 2, 3`,
    [schemas],
  );
  const result: DatabaseFingerprint = { tables: {}, schema: [] };
  for (const table of tables) {
    const label = rename(`${table.schema}.${table.name}`);
    const { rows: columns } = await db.query<{
      name: string;
      type: string;
      notnull: boolean;
      def: string | null;
    }>(
      `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as notnull,
              pg_get_expr(d.adbin, d.adrelid) as def
         from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
        order by a.attnum`,
      [table.oid],
    );
    for (const c of columns) {
      result.schema.push(
        `${label} column ${c.name} ${c.type}${c.notnull ? ' not null' : ''}${c.def === null ? '' : ` default ${c.def}`}`,
      );
    }
    const stable = columns.filter(
      (c) => c.def === null || !/now\(\)|clock_timestamp\(\)|current_timestamp/i.test(c.def),
    );
    const { rows: key } = await db.query<{ name: string }>(
      `select a.attname as name
         from pg_index i
         join lateral unnest(i.indkey) with ordinality as k(attnum, ord) on true
         join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = $1 and i.indisprimary
        order by k.ord`,
      [table.oid],
    );
    const q = (name: string) => `"${name.replaceAll('"', '""')}"`;
    const rowExpr = `row(${stable.map((c) => `t.${q(c.name)}`).join(', ')})::text`;
    const order = key.length > 0 ? key.map((k) => `t.${q(k.name)}`).join(', ') : rowExpr;
    const { rows } = await db.query<{ n: string; sum: string }>(
      `select count(*)::text as n, md5(coalesce(string_agg(${rowExpr}, E'\\n' order by ${order}), '')) as sum
         from ${q(table.schema)}.${q(table.name)} t`,
    );
    result.tables[label] = `${rows[0]?.n ?? '0'}:${rows[0]?.sum ?? ''}`;
    const { rows: extras } = await db.query<{ line: string }>(
      `select 'index ' || pg_get_indexdef(i.indexrelid) || case when i.indisvalid then '' else ' INVALID' end
                || case when i.indisready then '' else ' NOT READY' end as line
         from pg_index i where i.indrelid = $1
       union all
       select 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) from pg_constraint where conrelid = $1
       union all
       select 'policy ' || polname || ' ' || coalesce(pg_get_expr(polqual, polrelid), '') || ' / '
                || coalesce(pg_get_expr(polwithcheck, polrelid), '')
         from pg_policy where polrelid = $1
       union all
       select 'row level security ' || relrowsecurity || ' forced ' || relforcerowsecurity
         from pg_class where oid = $1 and (relrowsecurity or relforcerowsecurity)`,
      [table.oid],
    );
    for (const e of extras) result.schema.push(`${label} ${e.line}`);
  }
  result.schema.sort();
  return result;
}
