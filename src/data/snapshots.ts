import { createHash } from 'node:crypto';
import type pg from 'pg';
import { CutoverError } from '../errors/index.js';
import { isDatabaseError } from '../db/index.js';
import { runCancellable } from './cancellable.js';
import {
  quoteIdent,
  resolveTable,
  tableColumns,
  type Queryable,
  type TableRef,
} from './identifiers.js';

/** Schema holding snapshot copies and their metadata. */
export const SNAPSHOT_SCHEMA = 'cutover_snapshots';

/** One table of a snapshot. */
export interface SnapshotTable {
  /** The source table, `schema.name` (unquoted, for display and matching). */
  table: string;
  /** Schema of the source table (unquoted). */
  schema: string;
  /** Name of the source table (unquoted). */
  name: string;
  /** The copy's table name in schema `cutover_snapshots` (unquoted). */
  copyTable: string;
  /** Rows copied. */
  rows: number;
}

/** A sequence owned by a snapshotted table, with its value at snapshot time. */
export interface SnapshotSequence {
  /** `schema.name` of the sequence (unquoted, for display). */
  sequence: string;
  /** The sequence as SQL (`"schema"."name"`). */
  sequenceSql: string;
  /** The table owning it, `schema.name`. */
  table: string;
  /** `last_value` (as text: sequences are bigint). */
  lastValue: string;
  /** `is_called`. */
  isCalled: boolean;
}

/** A completed snapshot, as recorded in `cutover_snapshots.snapshots`. */
export interface SnapshotInfo {
  /** Snapshot id: `<first 8 characters of the run id>.<step id>` (longer run prefix on a clash). */
  id: string;
  runId: string;
  stepId: string;
  /** When the copy was taken (server time, ISO 8601). */
  createdAt: string;
  tables: SnapshotTable[];
  sequences: SnapshotSequence[];
  /** Total on-disk size of the copies in bytes (0 when not measured). */
  bytes: number;
}

/** Options of {@link takeSnapshot}. */
export interface TakeSnapshotOptions {
  /** Tables to copy, as written by users (`name`, `schema.name`). At least one. */
  tables: readonly string[];
  /** Run id (any string; a uuid under the runner). */
  runId: string;
  /** Step id (`<phase>.<index>` under the runner). */
  stepId: string;
  /** Aborting cancels the copy in flight and rolls everything back (nothing is left behind). */
  signal?: AbortSignal;
}

/** Result of {@link takeSnapshot}. */
export interface TakeSnapshotResult extends SnapshotInfo {
  /** True when a snapshot of this run and step already existed (resume): nothing was copied. */
  existing: boolean;
}

const META = `${quoteIdent(SNAPSHOT_SCHEMA)}.snapshots`;

/**
 * Creates schema `cutover_snapshots` and its metadata table if missing
 * (idempotent; serialized with a transaction-level advisory lock so
 * concurrent callers do not race on `CREATE … IF NOT EXISTS`).
 */
export async function ensureSnapshotSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`select pg_advisory_xact_lock(hashtext('cutover_snapshots.schema'))`);
    await client.query(`create schema if not exists ${quoteIdent(SNAPSHOT_SCHEMA)}`);
    await client.query(`
      create table if not exists ${META} (
        id text primary key,
        run_id text not null,
        step_id text not null,
        created_at timestamptz not null,
        completed_at timestamptz not null,
        tables jsonb not null,
        sequences jsonb not null,
        unique (run_id, step_id)
      )`);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Takes a consistent in-database copy of `tables` into schema
 * `cutover_snapshots`: ONE `REPEATABLE READ` transaction copies every table
 * (`CREATE TABLE … AS SELECT *`), so all copies show the same instant even
 * while writers go on (readers take only `ACCESS SHARE` locks; writers are not
 * blocked). The same transaction records the owned sequences' values and the
 * metadata row, which is the completion marker: a snapshot either exists
 * completely or not at all.
 *
 * Idempotent per `(runId, stepId)`: when that snapshot already exists (a
 * resumed run), it is returned with `existing: true` and nothing is copied.
 *
 * Copy tables are named `<id>__<schema>_<table>` (lower-cased, non
 * `[a-z0-9_]` replaced by `_`, cut to 63 bytes with a hash suffix when longer).
 *
 * @throws CutoverError `SNAPSHOT_NO_TABLES` (usage), `TABLE_NOT_FOUND` (not_found);
 *   the signal's reason when aborted.
 */
export async function takeSnapshot(
  pool: pg.Pool,
  options: TakeSnapshotOptions,
): Promise<TakeSnapshotResult> {
  if (options.tables.length === 0) {
    throw new CutoverError('SNAPSHOT_NO_TABLES', 'usage', 'A snapshot needs at least one table.', {
      hint: 'List the tables to copy, e.g. snapshot: { tables: [orders] }.',
    });
  }
  options.signal?.throwIfAborted();
  await ensureSnapshotSchema(pool);
  const client = await pool.connect();
  try {
    return await runCancellable(pool, client, options.signal, async () => {
      await client.query('begin isolation level repeatable read');
      try {
        const result = await copyTables(client, options);
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
    });
  } finally {
    client.release();
  }
}

async function copyTables(
  client: pg.PoolClient,
  options: TakeSnapshotOptions,
): Promise<TakeSnapshotResult> {
  // The first statement fixes the transaction's snapshot; every copy below sees that instant.
  const existing = await readSnapshots(client, 'where run_id = $1 and step_id = $2', [
    options.runId,
    options.stepId,
  ]);
  if (existing[0] !== undefined) return { ...existing[0], existing: true };

  const refs: TableRef[] = [];
  for (const [index, name] of options.tables.entries()) {
    const ref = await resolveTable(client, name, `tables[${index}]`);
    if (!refs.some((r) => r.oid === ref.oid)) refs.push(ref);
  }
  const id = await pickId(client, options.runId, options.stepId);
  const tables: SnapshotTable[] = [];
  const sequences: SnapshotSequence[] = [];
  for (const ref of refs) {
    options.signal?.throwIfAborted();
    const copyTable = copyTableName(id, ref);
    const copied = await client.query(
      `create table ${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(copyTable)} as select * from ${ref.sql}`,
    );
    tables.push({
      table: ref.qualified,
      schema: ref.schema,
      name: ref.name,
      copyTable,
      rows: copied.rowCount ?? 0,
    });
    for (const seq of await ownedSequences(client, ref.oid)) {
      const { rows } = await client.query<{ last_value: string; is_called: boolean }>(
        `select last_value::text as last_value, is_called from ${quoteIdent(seq.schema)}.${quoteIdent(seq.name)}`,
      );
      const row = rows[0];
      if (row !== undefined) {
        sequences.push({
          sequence: `${seq.schema}.${seq.name}`,
          sequenceSql: `${quoteIdent(seq.schema)}.${quoteIdent(seq.name)}`,
          table: ref.qualified,
          lastValue: row.last_value,
          isCalled: row.is_called,
        });
      }
    }
  }
  const { rows } = await client.query<{ created_at: Date }>(
    `insert into ${META} (id, run_id, step_id, created_at, completed_at, tables, sequences)
     values ($1, $2, $3, now(), clock_timestamp(), $4, $5) returning created_at`,
    [id, options.runId, options.stepId, JSON.stringify(tables), JSON.stringify(sequences)],
  );
  const bytes = await copiesSize(client, tables);
  return {
    id,
    runId: options.runId,
    stepId: options.stepId,
    createdAt: (rows[0]?.created_at ?? new Date()).toISOString(),
    tables,
    sequences,
    bytes,
    existing: false,
  };
}

async function pickId(client: pg.PoolClient, runId: string, stepId: string): Promise<string> {
  for (const length of [8, 12, 16, runId.length]) {
    const id = `${runId.slice(0, length)}.${stepId}`;
    const { rowCount } = await client.query(`select 1 from ${META} where id = $1`, [id]);
    if (rowCount === 0) return id;
  }
  return `${runId}.${stepId}.${createHash('sha256').update(String(Date.now())).digest('hex').slice(0, 6)}`;
}

/** `<id>__<schema>_<table>`, sanitized and at most 63 bytes. */
function copyTableName(id: string, ref: TableRef): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const name = `${clean(id)}__${clean(ref.schema)}_${clean(ref.name)}`;
  if (Buffer.byteLength(name) <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, 54)}_${hash}`;
}

async function ownedSequences(
  db: Queryable,
  tableOid: number,
): Promise<{ schema: string; name: string }[]> {
  const { rows } = await db.query<{ schema: string; name: string }>(
    `select distinct n.nspname as schema, s.relname as name
       from pg_depend d
       join pg_class s on s.oid = d.objid and s.relkind = 'S'
       join pg_namespace n on n.oid = s.relnamespace
      where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
        and d.refobjid = $1 and d.deptype in ('a', 'i')
      order by 1, 2`,
    [tableOid],
  );
  return rows;
}

async function copiesSize(db: Queryable, tables: readonly SnapshotTable[]): Promise<number> {
  if (tables.length === 0) return 0;
  const { rows } = await db.query<{ bytes: string | null }>(
    `select sum(pg_total_relation_size(to_regclass(quote_ident($1) || '.' || quote_ident(t))))::text as bytes
       from unnest($2::text[]) t`,
    [SNAPSHOT_SCHEMA, tables.map((t) => t.copyTable)],
  );
  return Number(rows[0]?.bytes ?? 0);
}

interface MetaRow {
  id: string;
  run_id: string;
  step_id: string;
  created_at: Date;
  tables: SnapshotTable[];
  sequences: SnapshotSequence[];
}

async function readSnapshots(
  db: Queryable,
  where: string,
  params: unknown[],
): Promise<SnapshotInfo[]> {
  const { rows } = await db.query<MetaRow>(
    `select id, run_id, step_id, created_at, tables, sequences from ${META} ${where} order by created_at, id`,
    params,
  );
  const result: SnapshotInfo[] = [];
  for (const row of rows) {
    result.push({
      id: row.id,
      runId: row.run_id,
      stepId: row.step_id,
      createdAt: row.created_at.toISOString(),
      tables: row.tables,
      sequences: row.sequences,
      bytes: await copiesSize(db, row.tables),
    });
  }
  return result;
}

async function metadataExists(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(`select to_regclass($1) is not null as ok`, [
    `${quoteIdent(SNAPSHOT_SCHEMA)}.snapshots`,
  ]);
  return rows[0]?.ok === true;
}

/** Every completed snapshot, oldest first; `[]` when none was ever taken. */
export async function listSnapshots(pool: pg.Pool): Promise<SnapshotInfo[]> {
  if (!(await metadataExists(pool))) return [];
  return readSnapshots(pool, '', []);
}

/**
 * The snapshot with this id, or of this run and step.
 *
 * @throws CutoverError `SNAPSHOT_NOT_FOUND` (not_found).
 */
export async function getSnapshot(
  pool: Queryable,
  ref: string | { runId: string; stepId: string },
): Promise<SnapshotInfo> {
  const found = (await metadataExists(pool))
    ? typeof ref === 'string'
      ? await readSnapshots(pool, 'where id = $1', [ref])
      : await readSnapshots(pool, 'where run_id = $1 and step_id = $2', [ref.runId, ref.stepId])
    : [];
  const snapshot = found[0];
  if (snapshot === undefined) {
    const what = typeof ref === 'string' ? ref : `run ${ref.runId} step ${ref.stepId}`;
    throw new CutoverError('SNAPSHOT_NOT_FOUND', 'not_found', `No snapshot ${what}.`, {
      hint: 'List the snapshots with `cutover snapshot list`.',
    });
  }
  return snapshot;
}

/** Options of {@link restoreSnapshot}. */
export interface RestoreSnapshotOptions {
  /** Restore only these source tables (names as users write them); default all tables of the snapshot. */
  tables?: readonly string[];
  /** `lock_timeout` for taking the tables' locks, in ms. Default 30 000. */
  lockTimeoutMs?: number;
  /** Aborting cancels the restore in flight; the transaction rolls back (nothing changes). */
  signal?: AbortSignal;
}

/** Result of {@link restoreSnapshot}. */
export interface RestoreSnapshotResult {
  id: string;
  /** Tables restored, with the rows now in each. */
  tables: { table: string; rows: number }[];
  /** `truncate` when no table outside the restored set references them, else `delete` (child tables first). */
  method: 'truncate' | 'delete';
  /** Sequences set back to their value at snapshot time. */
  sequences: string[];
}

/**
 * Restores tables from a snapshot in ONE transaction: locks them
 * (`ACCESS EXCLUSIVE`, blocking readers and writers for the duration),
 * empties them — `TRUNCATE` of all of them in one statement when no table
 * outside the set has a foreign key into them, else `DELETE` in
 * referencing-first order — then inserts the copies in referenced-first order
 * (foreign keys among the set hold at every statement; `DEFERRABLE`
 * constraints are deferred to commit) and sets owned sequences back. Columns
 * are matched by name; generated columns are recomputed and identity columns
 * keep the copied values (`OVERRIDING SYSTEM VALUE`). Row triggers of the
 * tables fire as for any insert.
 *
 * Refuses (changing nothing) when a table outside the set references a
 * restored table with `ON DELETE CASCADE | SET NULL | SET DEFAULT`, since
 * emptying the table would silently change that other table.
 *
 * @throws CutoverError `SNAPSHOT_NOT_FOUND` (not_found), `SNAPSHOT_TABLE_NOT_COVERED`
 *   (not_found), `SNAPSHOT_TABLE_MISSING` (failed: the source table was dropped
 *   since), `SNAPSHOT_COPY_MISSING` (failed), `SNAPSHOT_RESTORE_UNSAFE` (refused),
 *   `SNAPSHOT_RESTORE_BUSY` (busy: lock timeout), `SNAPSHOT_RESTORE_FAILED` (failed).
 */
export async function restoreSnapshot(
  pool: pg.Pool,
  id: string,
  options: RestoreSnapshotOptions = {},
): Promise<RestoreSnapshotResult> {
  options.signal?.throwIfAborted();
  const snapshot = await getSnapshot(pool, id);
  let selected = snapshot.tables;
  if (options.tables !== undefined) {
    selected = [];
    for (const name of options.tables) {
      const entry = await findCoveredTable(pool, snapshot, name);
      if (entry === undefined) {
        throw new CutoverError(
          'SNAPSHOT_TABLE_NOT_COVERED',
          'not_found',
          `Snapshot ${snapshot.id} has no copy of table "${name}".`,
          { hint: `It holds: ${snapshot.tables.map((t) => t.table).join(', ')}.` },
        );
      }
      if (!selected.includes(entry)) selected.push(entry);
    }
  }
  const client = await pool.connect();
  try {
    return await runCancellable(pool, client, options.signal, async () => {
      await client.query('begin');
      try {
        await client.query(`select set_config('lock_timeout', $1, true)`, [
          `${options.lockTimeoutMs ?? 30_000}ms`,
        ]);
        const result = await restoreTables(client, snapshot, selected);
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw mapRestoreError(error, snapshot.id);
      }
    });
  } finally {
    client.release();
  }
}

/** The snapshot entry copying `name` (resolved against the catalog, else compared as written). */
export async function findCoveredTable(
  db: Queryable,
  snapshot: SnapshotInfo,
  name: string,
): Promise<SnapshotTable | undefined> {
  let qualified = name.includes('.') ? name : `public.${name}`;
  try {
    qualified = (await resolveTable(db, name)).qualified;
  } catch {
    // The table may be gone; compare the name as written.
  }
  return snapshot.tables.find((t) => t.table === qualified);
}

function mapRestoreError(error: unknown, id: string): unknown {
  if (error instanceof CutoverError || !isDatabaseError(error)) return error;
  if (error.code === '55P03') {
    return new CutoverError(
      'SNAPSHOT_RESTORE_BUSY',
      'busy',
      `Restoring snapshot ${id} timed out waiting for a table lock; nothing was changed.`,
      {
        hint: 'Stop the sessions writing to these tables (see pg_stat_activity) and retry.',
        cause: error,
      },
    );
  }
  return new CutoverError(
    'SNAPSHOT_RESTORE_FAILED',
    'failed',
    `Restoring snapshot ${id} failed: ${error.message}; nothing was changed.`,
    {
      hint:
        error.code === '23503'
          ? 'A table outside the snapshot references these rows: include it in the snapshot or make the foreign key DEFERRABLE.'
          : 'Check that the tables still have the columns they had when the snapshot was taken.',
      cause: error,
      details: { sqlstate: error.code },
    },
  );
}

async function restoreTables(
  client: pg.PoolClient,
  snapshot: SnapshotInfo,
  selected: readonly SnapshotTable[],
): Promise<RestoreSnapshotResult> {
  const targets: { entry: SnapshotTable; ref: TableRef }[] = [];
  for (const entry of selected) {
    const { rows } = await client.query<{ oid: number | null; copy: boolean }>(
      `select to_regclass($1)::oid::int as oid, to_regclass($2) is not null as copy`,
      [
        `${quoteIdent(entry.schema)}.${quoteIdent(entry.name)}`,
        `${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(entry.copyTable)}`,
      ],
    );
    const row = rows[0];
    if (row?.oid === null || row?.oid === undefined) {
      throw new CutoverError(
        'SNAPSHOT_TABLE_MISSING',
        'failed',
        `Table ${entry.table} of snapshot ${snapshot.id} no longer exists; nothing was restored.`,
        { hint: 'Recreate the table (e.g. roll back the migration that dropped it) and retry.' },
      );
    }
    if (!row.copy) {
      throw new CutoverError(
        'SNAPSHOT_COPY_MISSING',
        'failed',
        `The copy ${SNAPSHOT_SCHEMA}.${entry.copyTable} of ${entry.table} is missing; nothing was restored.`,
        { hint: 'The snapshot was damaged by hand; restore from a backup instead.' },
      );
    }
    targets.push({
      entry,
      ref: await resolveTable(client, `${quoteIdent(entry.schema)}.${quoteIdent(entry.name)}`),
    });
  }
  const oids = targets.map((t) => t.ref.oid);
  // Lock in a stable order (by oid) to avoid deadlocks with another restore.
  for (const t of [...targets].sort((a, b) => a.ref.oid - b.ref.oid)) {
    await client.query(`lock table ${t.ref.sql} in access exclusive mode`);
  }
  await client.query('set constraints all deferred');

  const { rows: fks } = await client.query<{
    child: number;
    parent: number;
    on_delete: string;
    child_name: string;
    parent_name: string;
  }>(
    `select conrelid::int as child, confrelid::int as parent, confdeltype::text as on_delete,
            conrelid::regclass::text as child_name, confrelid::regclass::text as parent_name
       from pg_constraint
      where contype = 'f' and confrelid = any($1::oid[])`,
    [oids],
  );
  const external = fks.filter((fk) => !oids.includes(fk.child));
  const unsafe = external.find((fk) => ['c', 'n', 'd'].includes(fk.on_delete));
  if (unsafe !== undefined) {
    throw new CutoverError(
      'SNAPSHOT_RESTORE_UNSAFE',
      'refused',
      `Table ${unsafe.child_name} references ${unsafe.parent_name} with ON DELETE ${{ c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' }[unsafe.on_delete] ?? ''}: restoring would change it too; nothing was restored.`,
      { hint: `Take the snapshot with ${unsafe.child_name} included, or restore from a backup.` },
    );
  }
  const order = referencedFirst(
    oids,
    fks.filter((fk) => oids.includes(fk.child) && fk.child !== fk.parent),
  );
  const byOid = new Map(targets.map((t) => [t.ref.oid, t]));
  let method: 'truncate' | 'delete';
  if (external.length === 0) {
    method = 'truncate';
    await client.query(`truncate ${targets.map((t) => t.ref.sql).join(', ')}`);
  } else {
    method = 'delete';
    for (const oid of [...order].reverse()) {
      const t = byOid.get(oid);
      if (t !== undefined) await client.query(`delete from ${t.ref.sql}`);
    }
  }
  const restored: { table: string; rows: number }[] = [];
  for (const oid of order) {
    const t = byOid.get(oid);
    if (t === undefined) continue;
    const copySql = `${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(t.entry.copyTable)}`;
    const { rows: copyCols } = await client.query<{ name: string }>(
      `select attname as name from pg_attribute
        where attrelid = to_regclass($1) and attnum > 0 and not attisdropped`,
      [copySql],
    );
    const available = new Set(copyCols.map((c) => c.name));
    const columns = (await tableColumns(client, t.ref.oid))
      .filter((c) => !c.generated && available.has(c.name))
      .map((c) => quoteIdent(c.name))
      .join(', ');
    const inserted = await client.query(
      `insert into ${t.ref.sql} (${columns}) overriding system value select ${columns} from ${copySql}`,
    );
    restored.push({ table: t.entry.table, rows: inserted.rowCount ?? 0 });
  }
  const tableNames = new Set(selected.map((t) => t.table));
  const sequences: string[] = [];
  for (const seq of snapshot.sequences.filter((s) => tableNames.has(s.table))) {
    const seqSql = seq.sequenceSql;
    const { rows } = await client.query<{ ok: boolean }>(
      'select to_regclass($1) is not null as ok',
      [seqSql],
    );
    if (rows[0]?.ok !== true) continue;
    await client.query('select setval($1::regclass, $2::bigint, $3)', [
      seqSql,
      seq.lastValue,
      seq.isCalled,
    ]);
    sequences.push(seq.sequence);
  }
  return { id: snapshot.id, tables: restored, method, sequences };
}

/** Topological order of `nodes` with parents (referenced tables) before children; cycles keep input order. */
function referencedFirst(
  nodes: readonly number[],
  edges: readonly { child: number; parent: number }[],
): number[] {
  const order: number[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (node: number) => {
    if (state.has(node)) return;
    state.set(node, 'visiting');
    for (const edge of edges) {
      if (edge.child === node) visit(edge.parent);
    }
    state.set(node, 'done');
    order.push(node);
  };
  for (const node of nodes) visit(node);
  return order;
}

/**
 * Drops a snapshot: its copy tables and its metadata row, in one transaction.
 *
 * @throws CutoverError `SNAPSHOT_NOT_FOUND` (not_found).
 */
export async function dropSnapshot(pool: pg.Pool, id: string): Promise<SnapshotInfo> {
  const snapshot = await getSnapshot(pool, id);
  const client = await pool.connect();
  try {
    await client.query('begin');
    try {
      for (const t of snapshot.tables) {
        await client.query(
          `drop table if exists ${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(t.copyTable)}`,
        );
      }
      await client.query(`delete from ${META} where id = $1`, [id]);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  } finally {
    client.release();
  }
  return snapshot;
}
