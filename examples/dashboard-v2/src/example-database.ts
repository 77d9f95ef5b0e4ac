import type pg from 'pg';

/** Tables of the dashboard-v2 example in schema `public`: the legacy ones and the new ones. */
export const EXAMPLE_TABLES = [
  'dashboard_widgets',
  'dashboard_configurations',
  'legacy_dashboard_configs',
  'users',
] as const;

/** The example's plan name (`name:` of `cutover.yaml`). */
export const EXAMPLE_PLAN = 'dashboard-v2';

/** Feature flags the example's plan creates (its rollout phase). */
export const EXAMPLE_FLAGS = ['new-dashboard'];

/** What a database holds of the dashboard-v2 example (see {@link inspectExampleDatabase}). */
export interface ExampleDatabaseState {
  /** Runs of the example plan, newest first (empty when cutover's schema does not exist). */
  runs: { id: string; status: string; mode: string }[];
  /** Rows of `legacy_dashboard_configs`, or null when the table does not exist. */
  legacyRows: number | null;
  /** Tables of schema `public` that are not the example's. */
  otherTables: string[];
  /** cutover state that is not the example's: runs of other plans, other flags, tokens (one line each). */
  otherCutoverState: string[];
}

/**
 * Reads what `pool`'s database holds of the dashboard-v2 example: its runs,
 * the legacy rows, and anything else (other tables, other cutover state)
 * that a reset must not destroy.
 */
export async function inspectExampleDatabase(pool: pg.Pool): Promise<ExampleDatabaseState> {
  const { rows: tables } = await pool.query<{ name: string }>(
    `select tablename as name from pg_tables where schemaname = 'public' order by 1`,
  );
  const names = tables.map((t) => t.name);
  const otherTables = names.filter((n) => !(EXAMPLE_TABLES as readonly string[]).includes(n));
  let legacyRows: number | null = null;
  if (names.includes('legacy_dashboard_configs')) {
    const { rows } = await pool.query<{ n: number }>(
      'select count(*)::int as n from legacy_dashboard_configs',
    );
    legacyRows = rows[0]?.n ?? 0;
  }
  const runs: ExampleDatabaseState['runs'] = [];
  const otherCutoverState: string[] = [];
  const { rows: present } = await pool.query<{ runs: boolean; flags: boolean; tokens: boolean }>(
    `select to_regclass('cutover.runs') is not null as runs,
            to_regclass('cutover.flags') is not null as flags,
            to_regclass('cutover.tokens') is not null as tokens`,
  );
  if (present[0]?.runs === true) {
    const { rows } = await pool.query<{ id: string; status: string; mode: string; plan: string }>(
      'select id::text, status, mode, plan_name as plan from cutover.runs order by created_at desc',
    );
    for (const r of rows) {
      if (r.plan === EXAMPLE_PLAN) runs.push({ id: r.id, status: r.status, mode: r.mode });
      else otherCutoverState.push(`run ${r.id.slice(0, 8)} of plan ${r.plan}`);
    }
  }
  if (present[0]?.flags === true) {
    const { rows } = await pool.query<{ key: string }>(
      'select key from cutover.flags where key <> all($1) order by key',
      [EXAMPLE_FLAGS],
    );
    for (const r of rows) otherCutoverState.push(`flag ${r.key}`);
  }
  if (present[0]?.tokens === true) {
    const { rows } = await pool.query<{ n: number }>(
      'select count(*)::int as n from cutover.tokens',
    );
    if ((rows[0]?.n ?? 0) > 0) otherCutoverState.push(`${rows[0]?.n} tokens`);
  }
  return { runs, legacyRows, otherTables, otherCutoverState };
}

/**
 * Resets a database to before the dashboard-v2 example: drops the example's
 * tables and cutover's schemas (`cutover`: runs, audit log, migration
 * history, the example's flag; `cutover_snapshots`) in one transaction. Only for a database that
 * holds nothing else (check with {@link inspectExampleDatabase} first).
 */
export async function resetExampleDatabase(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(
      `drop table if exists ${EXAMPLE_TABLES.map((t) => `public.${t}`).join(', ')} cascade`,
    );
    await client.query('drop schema if exists cutover_snapshots cascade');
    await client.query('drop schema if exists cutover cascade');
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
