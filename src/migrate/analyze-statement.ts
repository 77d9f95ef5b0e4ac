import { hasSqlDetails } from 'libpg-query';
import type {
  AlterTableCmd,
  AlterTableStmt,
  ColumnDef,
  Constraint,
  Node,
  RangeVar,
  RenameStmt,
  TypeName,
} from 'libpg-query';

import { CutoverError } from '../errors/index.js';
import type { LockMode, SqlStatement, StatementAnalysis, TableLock } from './migration.js';
import { parseSql } from './split-statements.js';
import {
  booleanOption,
  defElems,
  qualifiedName,
  rangeVarName,
  rangeVars,
  walk,
} from './sql-ast.js';
import { codePointIndexToOffset, offsetToLineColumn } from './text-position.js';

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

/**
 * The dry-run lock rule table: which table locks a statement takes, whether
 * it rewrites or fully scans a table while holding them, and a safer form when
 * there is one. Works on the libpg-query parse tree, not on regexes.
 *
 * Sources: the PostgreSQL documentation — "Explicit Locking" (13.3.1
 * Table-Level Locks: which command takes which mode, and the conflict table),
 * the ALTER TABLE reference page (its per-subcommand lock notes, and the note
 * that since PostgreSQL 11 `ADD COLUMN` with a non-volatile default does not
 * rewrite the table) and the CREATE INDEX, REINDEX, DROP INDEX, CLUSTER,
 * VACUUM, REFRESH MATERIALIZED VIEW, CREATE TRIGGER, CREATE TABLE (PARTITION
 * OF) and LOCK pages — cross-checked with the server's
 * `AlterTableGetLockLevel()` (src/backend/commands/tablecmds.c, PostgreSQL
 * 12–17). Rules, in short:
 *
 * | statement | lock | rewrites / scans |
 * | --- | --- | --- |
 * | ALTER TABLE … ADD COLUMN, no default or a non-volatile default | ACCESS EXCLUSIVE (brief) | no (PG ≥ 11) |
 * | … ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval(), serial, identity, stored generated) | ACCESS EXCLUSIVE | rewrites |
 * | … ALTER COLUMN TYPE | ACCESS EXCLUSIVE | rewrites (may not when binary coercible, e.g. varchar(n) → text) |
 * | … ALTER COLUMN SET NOT NULL | ACCESS EXCLUSIVE | scans (advice: CHECK … NOT VALID, VALIDATE, then SET NOT NULL) |
 * | … DROP NOT NULL, SET/DROP DEFAULT, DROP COLUMN, DROP CONSTRAINT, OWNER, RLS, identity | ACCESS EXCLUSIVE (brief) | no |
 * | … ADD CONSTRAINT CHECK | ACCESS EXCLUSIVE | scans unless NOT VALID |
 * | … ADD CONSTRAINT FOREIGN KEY | SHARE ROW EXCLUSIVE on both tables | scans unless NOT VALID |
 * | … ADD CONSTRAINT UNIQUE / PRIMARY KEY / EXCLUDE | ACCESS EXCLUSIVE | builds an index (advice: CREATE UNIQUE INDEX CONCURRENTLY + USING INDEX) |
 * | … VALIDATE CONSTRAINT | SHARE UPDATE EXCLUSIVE | scans |
 * | … SET STATISTICS, SET (storage parameters), CLUSTER ON | SHARE UPDATE EXCLUSIVE | no |
 * | … ENABLE/DISABLE TRIGGER | SHARE ROW EXCLUSIVE | no |
 * | … SET TABLESPACE, SET ACCESS METHOD, SET LOGGED/UNLOGGED | ACCESS EXCLUSIVE | rewrites |
 * | … ATTACH PARTITION | SHARE UPDATE EXCLUSIVE on the parent, ACCESS EXCLUSIVE on the partition | scans the partition |
 * | … DETACH PARTITION [CONCURRENTLY] | ACCESS EXCLUSIVE [SHARE UPDATE EXCLUSIVE] | no |
 * | ALTER TABLE/… RENAME (table, column, constraint) | ACCESS EXCLUSIVE; ALTER INDEX RENAME: SHARE UPDATE EXCLUSIVE | no |
 * | CREATE INDEX | SHARE (blocks writes) | scans (advice: CONCURRENTLY) |
 * | CREATE INDEX CONCURRENTLY | SHARE UPDATE EXCLUSIVE | scans twice, no transaction |
 * | DROP INDEX [CONCURRENTLY] | ACCESS EXCLUSIVE [SHARE UPDATE EXCLUSIVE] | no |
 * | REINDEX | SHARE on the table, ACCESS EXCLUSIVE on the index; CONCURRENTLY: SHARE UPDATE EXCLUSIVE | rebuilds the index |
 * | DROP TABLE, TRUNCATE | ACCESS EXCLUSIVE | no |
 * | VACUUM / ANALYZE | SHARE UPDATE EXCLUSIVE; VACUUM FULL: ACCESS EXCLUSIVE (rewrites) | |
 * | CLUSTER | ACCESS EXCLUSIVE | rewrites |
 * | REFRESH MATERIALIZED VIEW [CONCURRENTLY] | ACCESS EXCLUSIVE [EXCLUSIVE] | rewrites [scans] |
 * | CREATE TABLE | none; SHARE ROW EXCLUSIVE on tables its foreign keys reference; ACCESS EXCLUSIVE on the parent for PARTITION OF | no |
 * | CREATE TRIGGER / DROP TRIGGER | SHARE ROW EXCLUSIVE / ACCESS EXCLUSIVE | no |
 * | INSERT, UPDATE, DELETE, MERGE | ROW EXCLUSIVE (ACCESS SHARE on tables only read) | |
 * | SELECT [FOR UPDATE/SHARE] | ACCESS SHARE [ROW SHARE] | |
 * | LOCK TABLE … IN mode | that mode (default ACCESS EXCLUSIVE) | |
 * | COMMENT ON, CREATE STATISTICS | SHARE UPDATE EXCLUSIVE | no |
 * | creating functions, types, schemas, extensions, sequences, views; GRANT; SET | none on existing tables | no |
 * | anything else (e.g. ALTER DOMAIN, ALTER SEQUENCE) | ACCESS EXCLUSIVE is assumed, `notes` says cutover has no rule for it | |
 *
 * `rewrites` is the worst case when the outcome depends on the catalog (e.g.
 * binary-coercible type changes; functions of unknown volatility) — the
 * `notes` then say "may not rewrite". Lock names are those of the
 * "Explicit Locking" chapter.
 *
 * @param statement a statement from `splitStatements`, or SQL text (several
 *   statements in one string are analysed together: the strongest lock wins).
 * @throws CutoverError `MIGRATION_PARSE_ERROR` (config) when the SQL does not
 *   parse; `SQL_PARSER_NOT_LOADED` when `loadSqlParser()` was not awaited.
 */
export function analyzeStatement(statement: SqlStatement | string): StatementAnalysis {
  const sql = typeof statement === 'string' ? statement : statement.sql;
  let nodes: Node[];
  try {
    nodes = parseSql(sql).flatMap((raw) => (raw.stmt === undefined ? [] : [raw.stmt]));
  } catch (error) {
    if (!hasSqlDetails(error)) throw error;
    const at = offsetToLineColumn(
      sql,
      codePointIndexToOffset(sql, error.sqlDetails?.cursorPosition ?? 0),
    );
    const location =
      typeof statement === 'string'
        ? `<statement>:${at.line}:${at.column}`
        : `line ${statement.line + at.line - 1}`;
    throw new CutoverError(
      'MIGRATION_PARSE_ERROR',
      'config',
      `SQL syntax error (${location}): ${error.message}.`,
      {
        location,
        hint: 'Fix the SQL; cutover analyses statements with the PostgreSQL parser.',
        cause: error,
      },
    );
  }
  const finding = nodes
    .map(analyzeNode)
    .reduce(merge, emptyFinding(nodes.length === 0 ? 'empty statement' : ''));
  return toAnalysis(finding);
}

/** The intermediate result of one rule. */
interface Finding {
  operation: string;
  /** No rule matched: ACCESS EXCLUSIVE is assumed. */
  unknown?: boolean;
  locks: TableLock[];
  rewrites: boolean;
  scans: boolean;
  notes: string[];
  advice: string[];
}

function emptyFinding(operation: string): Finding {
  return { operation, locks: [], rewrites: false, scans: false, notes: [], advice: [] };
}

function finding(
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

function lockOn(table: string | undefined, mode: LockMode): TableLock[] {
  return table === undefined ? [] : [{ table, mode }];
}

/** Combines two findings: union of locks (strongest per table), OR of rewrites/scans. */
function merge(a: Finding, b: Finding): Finding {
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

function toAnalysis(f: Finding): StatementAnalysis {
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

/* ------------------------------------------------------------------------ */
/* The rules                                                                 */
/* ------------------------------------------------------------------------ */

function analyzeNode(node: Node): Finding {
  if ('AlterTableStmt' in node) return alterTable(node.AlterTableStmt);
  if ('IndexStmt' in node) {
    const s = node.IndexStmt;
    const table = rangeVarName(s.relation);
    const kind = s.unique === true ? 'CREATE UNIQUE INDEX' : 'CREATE INDEX';
    if (s.concurrent === true) {
      return finding(`${kind} CONCURRENTLY`, lockOn(table, 'SHARE UPDATE EXCLUSIVE'), {
        scans: true,
        notes: [
          'Scans the table twice and waits for transactions that could use the index; cannot run inside a transaction block.',
          'If it fails, it leaves an INVALID index that must be dropped before retrying.',
        ],
      });
    }
    return finding(kind, lockOn(table, 'SHARE'), {
      scans: true,
      notes: ['Builds the index with a full scan while writes to the table wait.'],
      advice: [
        `Use ${kind} CONCURRENTLY (in its own migration, outside a transaction) to keep writes flowing.`,
      ],
    });
  }
  if ('DropStmt' in node)
    return dropStatement(
      node.DropStmt.removeType,
      node.DropStmt.objects,
      node.DropStmt.concurrent === true,
    );
  if ('TruncateStmt' in node) {
    const tables = rangeVars(node.TruncateStmt.relations).flatMap((rv) =>
      lockOn(rangeVarName(rv), 'ACCESS EXCLUSIVE'),
    );
    return finding('TRUNCATE', tables, {
      notes: [
        'Removes every row at once; tables referencing these need CASCADE and are truncated too.',
      ],
    });
  }
  if ('VacuumStmt' in node) {
    const s = node.VacuumStmt;
    const rels = rangeVars(s.rels).map((rv) => rangeVarName(rv));
    const full = s.is_vacuumcmd === true && booleanOption(s.options, 'full') === true;
    const name = s.is_vacuumcmd === true ? (full ? 'VACUUM FULL' : 'VACUUM') : 'ANALYZE';
    const mode: LockMode = full ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE';
    const notes = rels.length === 0 ? ['Processes every table of the database.'] : [];
    if (s.is_vacuumcmd === true) notes.push('Cannot run inside a transaction block.');
    return finding(
      name,
      rels.flatMap((t) => lockOn(t, mode)),
      {
        rewrites: full,
        scans: true,
        notes,
        ...(full
          ? {
              advice: [
                'VACUUM FULL rewrites the table under ACCESS EXCLUSIVE; prefer plain VACUUM, or pg_repack for online compaction.',
              ],
            }
          : {}),
      },
    );
  }
  if ('ClusterStmt' in node) {
    const table = rangeVarName(node.ClusterStmt.relation);
    return finding('CLUSTER', lockOn(table, 'ACCESS EXCLUSIVE'), {
      rewrites: true,
      scans: true,
      notes:
        table === undefined
          ? ['Re-clusters every previously clustered table; cannot run inside a transaction block.']
          : [],
      advice: [
        'CLUSTER rewrites the table under ACCESS EXCLUSIVE; consider pg_repack for an online rewrite.',
      ],
    });
  }
  if ('ReindexStmt' in node) {
    const s = node.ReindexStmt;
    const concurrent = booleanOption(s.params, 'concurrently') === true;
    const target = rangeVarName(s.relation) ?? s.name;
    const what =
      s.kind === 'REINDEX_OBJECT_INDEX'
        ? 'INDEX'
        : s.kind === 'REINDEX_OBJECT_TABLE'
          ? 'TABLE'
          : (s.kind ?? '').replace('REINDEX_OBJECT_', '');
    if (concurrent) {
      return finding(`REINDEX ${what} CONCURRENTLY`, lockOn(target, 'SHARE UPDATE EXCLUSIVE'), {
        rewrites: true,
        scans: true,
        notes: [
          'Builds new index copies without blocking reads or writes; cannot run inside a transaction block.',
        ],
      });
    }
    return finding(`REINDEX ${what}`, lockOn(target, 'ACCESS EXCLUSIVE'), {
      rewrites: true,
      scans: true,
      notes: [
        'Takes SHARE on the table (blocks writes) and ACCESS EXCLUSIVE on each index rebuilt (blocks reads that use it).',
      ],
      advice: ['Use REINDEX … CONCURRENTLY (PostgreSQL 12+) outside a transaction.'],
    });
  }
  if ('RefreshMatViewStmt' in node) {
    const s = node.RefreshMatViewStmt;
    const view = rangeVarName(s.relation);
    if (s.concurrent === true) {
      return finding('REFRESH MATERIALIZED VIEW CONCURRENTLY', lockOn(view, 'EXCLUSIVE'), {
        scans: true,
        notes: ['Reads keep working during the refresh; needs a unique index on the view.'],
      });
    }
    return finding('REFRESH MATERIALIZED VIEW', lockOn(view, 'ACCESS EXCLUSIVE'), {
      rewrites: true,
      scans: true,
      advice: [
        'Use REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view) so reads keep working.',
      ],
    });
  }
  if ('CreateStmt' in node)
    return createTable(
      node.CreateStmt.relation,
      node.CreateStmt.tableElts,
      node.CreateStmt.inhRelations,
      node.CreateStmt.partbound !== undefined,
    );
  if ('CreateTableAsStmt' in node) {
    const s = node.CreateTableAsStmt;
    const kind = s.objtype === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS';
    return finding(kind, readLocks(s.query, 'ACCESS SHARE'), {
      scans: true,
      notes: ['Reads the source tables in full while creating the new one.'],
    });
  }
  if ('CreateTrigStmt' in node) {
    return finding(
      'CREATE TRIGGER',
      lockOn(rangeVarName(node.CreateTrigStmt.relation), 'SHARE ROW EXCLUSIVE'),
    );
  }
  if ('RenameStmt' in node) return rename(node.RenameStmt);
  if ('AlterObjectSchemaStmt' in node) {
    const s = node.AlterObjectSchemaStmt;
    const table = rangeVarName(s.relation);
    return finding(
      `ALTER ${objectWord(s.objectType)} SET SCHEMA`,
      lockOn(table, 'ACCESS EXCLUSIVE'),
      {
        advice:
          table === undefined
            ? []
            : [
                'Running code that names the object with its old schema breaks: deploy the code change first.',
              ],
      },
    );
  }
  if ('InsertStmt' in node) {
    const s = node.InsertStmt;
    return merge(
      finding('INSERT', lockOn(rangeVarName(s.relation), 'ROW EXCLUSIVE')),
      finding('', readLocks([s.selectStmt, s.withClause], 'ACCESS SHARE')),
    );
  }
  if ('UpdateStmt' in node) {
    const s = node.UpdateStmt;
    return merge(
      finding(
        'UPDATE',
        lockOn(rangeVarName(s.relation), 'ROW EXCLUSIVE'),
        dmlExtras('UPDATE', s.whereClause === undefined),
      ),
      finding('', readLocks([s.fromClause, s.whereClause, s.withClause], 'ACCESS SHARE')),
    );
  }
  if ('DeleteStmt' in node) {
    const s = node.DeleteStmt;
    return merge(
      finding(
        'DELETE',
        lockOn(rangeVarName(s.relation), 'ROW EXCLUSIVE'),
        dmlExtras('DELETE', s.whereClause === undefined),
      ),
      finding('', readLocks([s.usingClause, s.whereClause, s.withClause], 'ACCESS SHARE')),
    );
  }
  if ('MergeStmt' in node) {
    const s = node.MergeStmt;
    return merge(
      finding('MERGE', lockOn(rangeVarName(s.relation), 'ROW EXCLUSIVE')),
      finding('', readLocks([s.sourceRelation, s.withClause], 'ACCESS SHARE')),
    );
  }
  if ('SelectStmt' in node) {
    const s = node.SelectStmt;
    const forUpdate = (s.lockingClause ?? []).length > 0;
    if (s.intoClause !== undefined) {
      return finding('SELECT INTO', readLocks(s, 'ACCESS SHARE'), { scans: true });
    }
    return finding(
      forUpdate ? 'SELECT … FOR UPDATE/SHARE' : 'SELECT',
      readLocks(s, forUpdate ? 'ROW SHARE' : 'ACCESS SHARE'),
    );
  }
  if ('LockStmt' in node) {
    const s = node.LockStmt;
    const mode = LOCK_MODES[s.mode ?? 8] ?? 'ACCESS EXCLUSIVE';
    return finding(
      `LOCK TABLE IN ${mode} MODE`,
      rangeVars(s.relations).flatMap((rv) => lockOn(rangeVarName(rv), mode)),
      {
        notes: ['Held until the end of the transaction.'],
      },
    );
  }
  if ('CommentStmt' in node) {
    const s = node.CommentStmt;
    const target = commentTarget(s.object, s.objtype);
    return finding('COMMENT ON', lockOn(target, 'SHARE UPDATE EXCLUSIVE'));
  }
  if ('CreateStatsStmt' in node) {
    const tables = walkRangeVars(node.CreateStatsStmt.relations).flatMap((t) =>
      lockOn(t, 'SHARE UPDATE EXCLUSIVE'),
    );
    return finding('CREATE STATISTICS', tables);
  }
  if ('ViewStmt' in node) {
    const s = node.ViewStmt;
    const view = rangeVarName(s.view);
    return finding(
      s.replace === true ? 'CREATE OR REPLACE VIEW' : 'CREATE VIEW',
      s.replace === true ? lockOn(view, 'ACCESS EXCLUSIVE') : [],
      s.replace === true
        ? { notes: ['Replacing a view waits for queries using it and blocks them briefly.'] }
        : {},
    );
  }
  if ('AlterEnumStmt' in node) {
    return finding('ALTER TYPE … ADD VALUE', [], {
      notes: [
        'A new enum value cannot be used in the same transaction that adds it (PostgreSQL 12+; older versions refuse ADD VALUE inside a transaction).',
      ],
    });
  }
  if ('CreatePolicyStmt' in node) {
    return finding(
      'CREATE POLICY',
      lockOn(rangeVarName(node.CreatePolicyStmt.table), 'ACCESS EXCLUSIVE'),
    );
  }
  if ('RuleStmt' in node)
    return finding('CREATE RULE', lockOn(rangeVarName(node.RuleStmt.relation), 'ACCESS EXCLUSIVE'));
  if ('DoStmt' in node) {
    return finding('DO block', [], {
      notes: ['cutover cannot see inside a DO block: the statements it runs take their own locks.'],
    });
  }
  if ('TransactionStmt' in node) return finding('transaction control', []);
  if ('VariableSetStmt' in node || 'VariableShowStmt' in node) return finding('SET', []);
  if (
    'CreatedbStmt' in node ||
    'DropdbStmt' in node ||
    'AlterSystemStmt' in node ||
    'CreateTableSpaceStmt' in node
  ) {
    return finding(harmlessName(node), [], { notes: ['Cannot run inside a transaction block.'] });
  }
  const harmless = [
    'CreateFunctionStmt',
    'CreateSchemaStmt',
    'CreateExtensionStmt',
    'CreateEnumStmt',
    'CompositeTypeStmt',
    'CreateRangeStmt',
    'CreateDomainStmt',
    'CreateSeqStmt',
    'DefineStmt',
    'GrantStmt',
    'GrantRoleStmt',
    'CreateRoleStmt',
    'AlterRoleStmt',
    'AlterDefaultPrivilegesStmt',
    'CreatePublicationStmt',
    'CreateSubscriptionStmt',
    'DropSubscriptionStmt',
    'AlterDatabaseStmt',
    'AlterDatabaseSetStmt',
    'CreateCastStmt',
    'CreateConversionStmt',
    'CreateOpClassStmt',
    'AlterFunctionStmt',
    'AlterOwnerStmt',
    'CheckPointStmt',
    'NotifyStmt',
    'ListenStmt',
    'DiscardStmt',
    'ExplainStmt',
    'CallStmt',
    'DropRoleStmt',
    'CreateEventTrigStmt',
    'AlterExtensionStmt',
    'CreateTransformStmt',
    'CreatePLangStmt',
  ];
  const type = Object.keys(node)[0] ?? '';
  if (harmless.includes(type)) {
    const notes =
      type === 'CallStmt'
        ? ['cutover cannot see inside a procedure: the statements it runs take their own locks.']
        : [];
    return finding(harmlessName(node), [], { notes });
  }
  return {
    ...finding(harmlessName(node), [], {
      notes: [
        `cutover has no lock rule for ${harmlessName(node)} and assumes ACCESS EXCLUSIVE; check the PostgreSQL documentation of the command before running it on a busy table.`,
      ],
    }),
    unknown: true,
  };
}

/** `CreateFunctionStmt` → `CREATE FUNCTION` (a readable name for any statement type). */
function harmlessName(node: Node): string {
  const type = (Object.keys(node)[0] ?? 'statement').replace(/Stmt$/, '');
  const words: Record<string, string> = {
    Createdb: 'CREATE DATABASE',
    Dropdb: 'DROP DATABASE',
    CreateTableSpace: 'CREATE TABLESPACE',
    AlterSystem: 'ALTER SYSTEM',
    CreateFunction: 'CREATE FUNCTION',
    CreateSeq: 'CREATE SEQUENCE',
    AlterSeq: 'ALTER SEQUENCE',
    CreateEnum: 'CREATE TYPE … AS ENUM',
    CompositeType: 'CREATE TYPE',
    CreateRange: 'CREATE TYPE … AS RANGE',
    Define: 'CREATE (aggregate/operator/type)',
    Grant: 'GRANT/REVOKE',
    GrantRole: 'GRANT/REVOKE role',
    CheckPoint: 'CHECKPOINT',
    CreatePLang: 'CREATE LANGUAGE',
    CreateEventTrig: 'CREATE EVENT TRIGGER',
  };
  return words[type] ?? type.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}

function objectWord(objectType: string | undefined): string {
  return (objectType ?? 'OBJECT_TABLE').replace('OBJECT_', '').replace('_', ' ');
}

function dmlExtras(verb: string, noWhere: boolean): Partial<Finding> {
  const advice = [
    `A large ${verb} holds row locks and creates dead rows until it commits; for big tables use a cutover backfill (batched, keyset pagination, checkpointed).`,
  ];
  return noWhere
    ? { scans: true, notes: [`${verb} without WHERE touches every row of the table.`], advice }
    : { advice };
}

/** Tables read by a query (RangeVars in FROM/USING/subqueries), minus CTE names. */
function readLocks(value: unknown, mode: LockMode): TableLock[] {
  const ctes = new Set<string>();
  for (const n of walk(value)) {
    if ('CommonTableExpr' in n && n.CommonTableExpr.ctename !== undefined)
      ctes.add(n.CommonTableExpr.ctename);
  }
  return walkRangeVars(value)
    .filter((t) => !ctes.has(t))
    .flatMap((t) => lockOn(t, mode));
}

function walkRangeVars(value: unknown): string[] {
  const names: string[] = [];
  for (const n of walk(value)) {
    if ('RangeVar' in n) {
      const name = rangeVarName(n.RangeVar);
      if (name !== undefined && !names.includes(name)) names.push(name);
    }
  }
  return names;
}

function commentTarget(object: Node | undefined, objtype: string | undefined): string | undefined {
  if (object === undefined) return undefined;
  if (objtype !== 'OBJECT_TABLE' && objtype !== 'OBJECT_COLUMN' && objtype !== 'OBJECT_INDEX')
    return undefined;
  if ('List' in object) {
    const parts = (object.List.items ?? []).flatMap((i) =>
      'String' in i && i.String.sval !== undefined ? [i.String.sval] : [],
    );
    if (objtype === 'OBJECT_COLUMN') parts.pop();
    return parts.length === 0 ? undefined : parts.join('.');
  }
  return undefined;
}

/* ---- DROP ---------------------------------------------------------------- */

function dropStatement(
  removeType: string | undefined,
  objects: Node[] | undefined,
  concurrent: boolean,
): Finding {
  const names = (objects ?? []).flatMap((o) => {
    if ('List' in o) {
      const n = qualifiedName(o.List.items);
      return n === undefined ? [] : [n];
    }
    if ('String' in o && o.String.sval !== undefined) return [o.String.sval];
    return [];
  });
  switch (removeType) {
    case 'OBJECT_TABLE':
      return finding(
        'DROP TABLE',
        names.flatMap((t) => lockOn(t, 'ACCESS EXCLUSIVE')),
        {
          notes: ['Tables its foreign keys reference are locked too (their triggers are dropped).'],
          advice: [
            'Drop a table only in the contract phase, after no running code uses it (point of no return: take a snapshot first).',
          ],
        },
      );
    case 'OBJECT_INDEX':
      if (concurrent) {
        return finding(
          'DROP INDEX CONCURRENTLY',
          names.flatMap((t) => lockOn(t, 'SHARE UPDATE EXCLUSIVE')),
          {
            notes: [
              'Waits for transactions using the index; cannot run inside a transaction block.',
            ],
          },
        );
      }
      return finding(
        'DROP INDEX',
        names.flatMap((t) => lockOn(t, 'ACCESS EXCLUSIVE')),
        {
          notes: [
            "Takes ACCESS EXCLUSIVE on the index's table: blocks its reads and writes until the drop commits.",
          ],
          advice: ['Use DROP INDEX CONCURRENTLY (outside a transaction).'],
        },
      );
    case 'OBJECT_VIEW':
    case 'OBJECT_MATVIEW':
    case 'OBJECT_SEQUENCE':
    case 'OBJECT_FOREIGN_TABLE':
      return finding(
        `DROP ${objectWord(removeType)}`,
        names.flatMap((t) => lockOn(t, 'ACCESS EXCLUSIVE')),
      );
    case 'OBJECT_TRIGGER':
    case 'OBJECT_RULE':
    case 'OBJECT_POLICY': {
      // objects: [[schema?, table, name]] — the table is all but the last part.
      const tables = (objects ?? []).flatMap((o) => {
        if (!('List' in o)) return [];
        const parts = (o.List.items ?? []).flatMap((i) =>
          'String' in i && i.String.sval !== undefined ? [i.String.sval] : [],
        );
        parts.pop();
        return parts.length === 0 ? [] : [parts.join('.')];
      });
      return finding(
        `DROP ${objectWord(removeType)}`,
        tables.flatMap((t) => lockOn(t, 'ACCESS EXCLUSIVE')),
      );
    }
    default:
      return finding(`DROP ${objectWord(removeType)}`, [], {
        notes:
          removeType === 'OBJECT_SCHEMA' ||
          removeType === 'OBJECT_TYPE' ||
          removeType === 'OBJECT_EXTENSION'
            ? ['With CASCADE it also drops (and locks) every dependent table or column.']
            : [],
      });
  }
}

/* ---- RENAME -------------------------------------------------------------- */

function rename(s: RenameStmt): Finding {
  const table = rangeVarName(s.relation);
  const what = s.renameType ?? 'OBJECT_TABLE';
  const advice = [
    'Renaming breaks running code that uses the old name: add the new name alongside (expand/contract) or deploy the code change in step.',
  ];
  switch (what) {
    case 'OBJECT_INDEX':
      return finding('ALTER INDEX … RENAME', lockOn(table, 'SHARE UPDATE EXCLUSIVE'));
    case 'OBJECT_COLUMN':
      return finding('ALTER TABLE … RENAME COLUMN', lockOn(table, 'ACCESS EXCLUSIVE'), { advice });
    case 'OBJECT_TABCONSTRAINT':
      return finding('ALTER TABLE … RENAME CONSTRAINT', lockOn(table, 'ACCESS EXCLUSIVE'));
    case 'OBJECT_TRIGGER':
    case 'OBJECT_RULE':
    case 'OBJECT_POLICY':
      return finding(`ALTER ${objectWord(what)} … RENAME`, lockOn(table, 'ACCESS EXCLUSIVE'));
    case 'OBJECT_TABLE':
    case 'OBJECT_VIEW':
    case 'OBJECT_MATVIEW':
    case 'OBJECT_SEQUENCE':
    case 'OBJECT_FOREIGN_TABLE':
      return finding(`ALTER ${objectWord(what)} … RENAME`, lockOn(table, 'ACCESS EXCLUSIVE'), {
        advice,
      });
    default:
      return finding(`ALTER ${objectWord(what)} … RENAME`, []);
  }
}

/* ---- CREATE TABLE -------------------------------------------------------- */

function createTable(
  relation: RangeVar | undefined,
  elements: Node[] | undefined,
  inherits: Node[] | undefined,
  partitionOf: boolean,
): Finding {
  let result = finding('CREATE TABLE', []);
  for (const element of elements ?? []) {
    const constraints: Constraint[] = [];
    if ('Constraint' in element) constraints.push(element.Constraint);
    if ('ColumnDef' in element) {
      for (const c of element.ColumnDef.constraints ?? [])
        if ('Constraint' in c) constraints.push(c.Constraint);
    }
    if ('TableLikeClause' in element) {
      result = merge(
        result,
        finding('', lockOn(rangeVarName(element.TableLikeClause.relation), 'ACCESS SHARE')),
      );
    }
    for (const c of constraints) {
      if (c.contype === 'CONSTR_FOREIGN') {
        result = merge(
          result,
          finding('', lockOn(rangeVarName(c.pktable), 'SHARE ROW EXCLUSIVE'), {
            notes: [
              'The referenced table is locked SHARE ROW EXCLUSIVE (writes to it wait) while the foreign key triggers are created.',
            ],
          }),
        );
      }
    }
  }
  const parents = rangeVars(inherits).map((rv) => rangeVarName(rv));
  for (const parent of parents) {
    result = partitionOf
      ? merge(
          result,
          finding('', lockOn(parent, 'ACCESS EXCLUSIVE'), {
            notes: ['CREATE TABLE … PARTITION OF takes ACCESS EXCLUSIVE on the partitioned table.'],
            advice: [
              'To avoid the ACCESS EXCLUSIVE lock on the parent, create the table standalone and ATTACH PARTITION it (SHARE UPDATE EXCLUSIVE on the parent).',
            ],
          }),
        )
      : merge(result, finding('', lockOn(parent, 'SHARE UPDATE EXCLUSIVE')));
  }
  if (partitionOf) result.operation = 'CREATE TABLE … PARTITION OF';
  void relation;
  return result;
}

/* ---- ALTER TABLE --------------------------------------------------------- */

/**
 * Functions whose results change from row to row (PostgreSQL `VOLATILE`): as
 * a column default they force a table rewrite on ADD COLUMN.
 */
const VOLATILE_FUNCTIONS = new Set([
  'random',
  'random_normal',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'gen_random_bytes',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'setval',
  'txid_current',
  'pg_current_xact_id',
]);

/**
 * Built-in functions known to be STABLE or IMMUTABLE (a default using only
 * these is evaluated once; no rewrite since PostgreSQL 11).
 */
const NON_VOLATILE_FUNCTIONS = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'current_date',
  'current_timestamp',
  'localtimestamp',
  'lower',
  'upper',
  'trim',
  'btrim',
  'concat',
  'concat_ws',
  'length',
  'substring',
  'replace',
  'md5',
  'abs',
  'round',
  'to_char',
  'to_date',
  'to_timestamp',
  'to_json',
  'to_jsonb',
  'json_build_object',
  'jsonb_build_object',
  'json_build_array',
  'jsonb_build_array',
  'array_fill',
  'make_date',
  'make_interval',
  'make_timestamp',
  'make_timestamptz',
  'date_trunc',
  'timezone',
  'current_setting',
  'current_user',
  'current_schema',
  'inet_client_addr',
]);

const SERIAL_TYPES = new Set([
  'serial',
  'serial4',
  'bigserial',
  'serial8',
  'smallserial',
  'serial2',
]);

/** Target types to which common conversions are binary coercible (no rewrite when the old type allows it). */
const MAYBE_COERCIBLE_TYPES = new Set([
  'text',
  'varchar',
  'numeric',
  'varbit',
  'citext',
  'inet',
  'timestamptz',
  'bpchar',
]);

function typeNameOf(t: TypeName | undefined): string | undefined {
  const names = (t?.names ?? []).flatMap((n) =>
    'String' in n && n.String.sval !== undefined ? [n.String.sval] : [],
  );
  return names[names.length - 1];
}

/** Volatility of a default expression: 'volatile', 'unknown' (names a function cutover does not know), or 'stable'. */
function defaultVolatility(expr: Node | undefined): {
  kind: 'volatile' | 'unknown' | 'stable';
  fn?: string;
} {
  let unknown: string | undefined;
  for (const n of walk(expr)) {
    if ('FuncCall' in n) {
      const name = qualifiedName(n.FuncCall.funcname)?.split('.').pop()?.toLowerCase() ?? '';
      if (VOLATILE_FUNCTIONS.has(name)) return { kind: 'volatile', fn: name };
      if (!NON_VOLATILE_FUNCTIONS.has(name)) unknown ??= name;
    }
    if ('SubLink' in n) unknown ??= 'a subquery';
  }
  return unknown === undefined ? { kind: 'stable' } : { kind: 'unknown', fn: unknown };
}

function alterTable(stmt: AlterTableStmt): Finding {
  const table = rangeVarName(stmt.relation);
  const objectKind =
    stmt.objtype === 'OBJECT_INDEX'
      ? 'ALTER INDEX'
      : stmt.objtype === 'OBJECT_TABLE' || stmt.objtype === undefined
        ? 'ALTER TABLE'
        : `ALTER ${objectWord(stmt.objtype)}`;
  let result = emptyFinding('');
  for (const cmdNode of stmt.cmds ?? []) {
    if (!('AlterTableCmd' in cmdNode)) continue;
    result = merge(result, alterTableCommand(objectKind, table, cmdNode.AlterTableCmd));
  }
  if (result.operation === '') result.operation = objectKind;
  return result;
}

function alterTableCommand(kind: string, table: string | undefined, cmd: AlterTableCmd): Finding {
  const op = (what: string): string => `${kind} … ${what}`;
  const ae = lockOn(table, 'ACCESS EXCLUSIVE');
  const sue = lockOn(table, 'SHARE UPDATE EXCLUSIVE');
  const column = cmd.name === undefined ? '' : ` ${cmd.name}`;
  switch (cmd.subtype) {
    case 'AT_AddColumn':
      return addColumn(
        op,
        table,
        cmd.def !== undefined && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined,
      );
    case 'AT_AlterColumnType': {
      const def = cmd.def !== undefined && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
      const target = typeNameOf(def?.typeName);
      const using = def?.raw_default !== undefined;
      const maybe = !using && target !== undefined && MAYBE_COERCIBLE_TYPES.has(target);
      return finding(op(`ALTER COLUMN${column} TYPE ${target ?? ''}`.trimEnd()), ae, {
        rewrites: true,
        scans: true,
        notes: [
          maybe
            ? 'May not rewrite: PostgreSQL skips the rewrite when the old type is binary coercible to the new one (e.g. varchar(n) → text or a longer varchar, numeric(p,s) → a larger precision); indexes on the column are still rebuilt.'
            : 'Rewrites the table and rebuilds its indexes while reads and writes wait.',
        ],
        advice: [
          'For a big table, add a new column, backfill it in batches, switch the code, then drop the old one (expand/contract).',
        ],
      });
    }
    case 'AT_SetNotNull':
      return finding(op(`ALTER COLUMN${column} SET NOT NULL`), ae, {
        scans: true,
        notes: [
          'Scans the whole table to check for NULLs while holding ACCESS EXCLUSIVE (no scan when a valid CHECK (col IS NOT NULL) constraint exists, PostgreSQL 12+).',
        ],
        advice: [
          `Add CHECK (${cmd.name ?? 'col'} IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE) in a later migration; SET NOT NULL then skips the scan, and the CHECK can be dropped.`,
        ],
      });
    case 'AT_DropNotNull':
      return finding(op(`ALTER COLUMN${column} DROP NOT NULL`), ae);
    case 'AT_ColumnDefault':
    case 'AT_CookedColumnDefault':
      return finding(
        op(`ALTER COLUMN${column} ${cmd.def === undefined ? 'DROP DEFAULT' : 'SET DEFAULT'}`),
        ae,
        {
          notes: ['Changes only the catalog (existing rows are not touched).'],
        },
      );
    case 'AT_AddConstraint':
    case 'AT_ReAddConstraint':
      return addConstraint(
        op,
        table,
        cmd.def !== undefined && 'Constraint' in cmd.def ? cmd.def.Constraint : undefined,
      );
    case 'AT_AddIndexConstraint':
      return finding(op('ADD CONSTRAINT … USING INDEX'), ae, {
        notes: [
          'Brief: the existing index becomes the constraint (a PRIMARY KEY also checks NOT NULL, which scans nullable columns).',
        ],
      });
    case 'AT_AddIndex':
      return finding(op('ADD INDEX'), ae, { scans: true });
    case 'AT_ValidateConstraint':
      return finding(op(`VALIDATE CONSTRAINT${column}`), sue, {
        scans: true,
        notes: [
          'Scans the table without blocking reads or writes (a foreign key also takes ROW SHARE on the referenced table).',
        ],
      });
    case 'AT_DropConstraint':
      return finding(op(`DROP CONSTRAINT${column}`), ae, {
        notes: ['For a foreign key, the referenced table is locked too.'],
      });
    case 'AT_AlterConstraint':
      return finding(op(`ALTER CONSTRAINT${column}`), ae);
    case 'AT_DropColumn':
      return finding(op(`DROP COLUMN${column}`), ae, {
        notes: [
          'Brief: the column is only marked dropped (its space is reclaimed by later updates/VACUUM FULL).',
        ],
        advice: [
          'Drop a column only in the contract phase, after no running code reads or writes it.',
        ],
      });
    case 'AT_SetTableSpace':
      return finding(op('SET TABLESPACE'), ae, {
        rewrites: true,
        notes: ['Copies every data file to the new tablespace while reads and writes wait.'],
      });
    case 'AT_SetAccessMethod':
      return finding(op('SET ACCESS METHOD'), ae, { rewrites: true });
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
      return finding(op(cmd.subtype === 'AT_SetLogged' ? 'SET LOGGED' : 'SET UNLOGGED'), ae, {
        rewrites: true,
      });
    case 'AT_EnableTrig':
    case 'AT_EnableAlwaysTrig':
    case 'AT_EnableReplicaTrig':
    case 'AT_EnableTrigAll':
    case 'AT_EnableTrigUser':
      return finding(op(`ENABLE TRIGGER${column}`), lockOn(table, 'SHARE ROW EXCLUSIVE'));
    case 'AT_DisableTrig':
    case 'AT_DisableTrigAll':
    case 'AT_DisableTrigUser':
      return finding(op(`DISABLE TRIGGER${column}`), lockOn(table, 'SHARE ROW EXCLUSIVE'));
    case 'AT_SetStatistics':
    case 'AT_SetOptions':
    case 'AT_ResetOptions':
    case 'AT_ClusterOn':
    case 'AT_DropCluster':
      return finding(op(subtypeWords(cmd.subtype)), sue);
    case 'AT_SetRelOptions':
    case 'AT_ResetRelOptions': {
      const strong = defElems(
        cmd.def !== undefined && 'List' in cmd.def ? cmd.def.List.items : undefined,
      ).some((d) =>
        ['security_barrier', 'check_option', 'security_invoker'].includes(d.defname ?? ''),
      );
      return finding(
        op(
          cmd.subtype === 'AT_SetRelOptions'
            ? 'SET (storage parameters)'
            : 'RESET (storage parameters)',
        ),
        strong ? ae : sue,
      );
    }
    case 'AT_AttachPartition': {
      const partition =
        cmd.def !== undefined && 'PartitionCmd' in cmd.def
          ? rangeVarName(cmd.def.PartitionCmd.name)
          : undefined;
      if (kind === 'ALTER INDEX') return finding(op('ATTACH PARTITION'), sue);
      return finding(
        op(`ATTACH PARTITION ${partition ?? ''}`.trimEnd()),
        [...sue, ...lockOn(partition, 'ACCESS EXCLUSIVE')],
        {
          scans: true,
          notes: [
            'Scans the new partition to check the partition bound (skipped when a valid CHECK constraint implies it); a DEFAULT partition is locked ACCESS EXCLUSIVE and scanned too.',
          ],
          advice: [
            'Add a CHECK constraint matching the bound to the partition first (NOT VALID, then VALIDATE) so the attach skips the scan.',
          ],
        },
      );
    }
    case 'AT_DetachPartition': {
      const pc =
        cmd.def !== undefined && 'PartitionCmd' in cmd.def ? cmd.def.PartitionCmd : undefined;
      const partition = rangeVarName(pc?.name);
      if (pc?.concurrent === true) {
        return finding(
          op(`DETACH PARTITION ${partition ?? ''} CONCURRENTLY`.replace('  ', ' ')),
          [...sue, ...lockOn(partition, 'SHARE UPDATE EXCLUSIVE')],
          {
            notes: ['Cannot run inside a transaction block (PostgreSQL 14+).'],
          },
        );
      }
      return finding(
        op(`DETACH PARTITION ${partition ?? ''}`.trimEnd()),
        [...ae, ...lockOn(partition, 'ACCESS EXCLUSIVE')],
        {
          advice: [
            'Use DETACH PARTITION … CONCURRENTLY (PostgreSQL 14+, outside a transaction) to keep the parent readable and writable.',
          ],
        },
      );
    }
    case 'AT_DetachPartitionFinalize':
      return finding(op('DETACH PARTITION … FINALIZE'), sue);
    case 'AT_SetExpression':
      return finding(op(`ALTER COLUMN${column} SET EXPRESSION`), ae, { rewrites: true });
    default:
      return finding(op(subtypeWords(cmd.subtype)), ae);
  }
}

function subtypeWords(subtype: string | undefined): string {
  const words: Record<string, string> = {
    AT_SetStatistics: 'SET STATISTICS',
    AT_SetOptions: 'ALTER COLUMN SET (options)',
    AT_ResetOptions: 'ALTER COLUMN RESET (options)',
    AT_ClusterOn: 'CLUSTER ON',
    AT_DropCluster: 'SET WITHOUT CLUSTER',
    AT_ChangeOwner: 'OWNER TO',
    AT_EnableRowSecurity: 'ENABLE ROW LEVEL SECURITY',
    AT_DisableRowSecurity: 'DISABLE ROW LEVEL SECURITY',
    AT_ForceRowSecurity: 'FORCE ROW LEVEL SECURITY',
    AT_NoForceRowSecurity: 'NO FORCE ROW LEVEL SECURITY',
    AT_AddIdentity: 'ADD GENERATED AS IDENTITY',
    AT_SetIdentity: 'SET GENERATED/sequence options',
    AT_DropIdentity: 'DROP IDENTITY',
    AT_DropExpression: 'DROP EXPRESSION',
    AT_SetStorage: 'SET STORAGE',
    AT_SetCompression: 'SET COMPRESSION',
    AT_ReplicaIdentity: 'REPLICA IDENTITY',
    AT_AddInherit: 'INHERIT',
    AT_DropInherit: 'NO INHERIT',
    AT_AddOf: 'OF type',
    AT_DropOf: 'NOT OF',
    AT_EnableRule: 'ENABLE RULE',
    AT_DisableRule: 'DISABLE RULE',
    AT_GenericOptions: 'OPTIONS',
  };
  return words[subtype ?? ''] ?? (subtype ?? 'subcommand').replace(/^AT_/, '');
}

function addColumn(
  op: (what: string) => string,
  table: string | undefined,
  def: ColumnDef | undefined,
): Finding {
  const name = def?.colname ?? '';
  const ae = lockOn(table, 'ACCESS EXCLUSIVE');
  const constraints = (def?.constraints ?? []).flatMap((c) =>
    'Constraint' in c ? [c.Constraint] : [],
  );
  const type = typeNameOf(def?.typeName);
  const defaultConstraint = constraints.find((c) => c.contype === 'CONSTR_DEFAULT');
  const defaultExpr = defaultConstraint?.raw_expr ?? def?.raw_default;
  let result: Finding;
  if (type !== undefined && SERIAL_TYPES.has(type)) {
    result = finding(op(`ADD COLUMN ${name} ${type}`), ae, {
      rewrites: true,
      notes: [
        `A ${type} column gets a nextval() default, which is volatile: every row is rewritten.`,
      ],
      advice: volatileAdvice(name),
    });
  } else if (constraints.some((c) => c.contype === 'CONSTR_IDENTITY')) {
    result = finding(op(`ADD COLUMN ${name} GENERATED AS IDENTITY`), ae, {
      rewrites: true,
      notes: [
        'An identity column fills every existing row from its sequence: the table is rewritten.',
      ],
      advice: volatileAdvice(name),
    });
  } else if (
    constraints.some((c) => c.contype === 'CONSTR_GENERATED' && c.generated_kind !== 'v')
  ) {
    result = finding(op(`ADD COLUMN ${name} GENERATED ALWAYS AS (…) STORED`), ae, {
      rewrites: true,
      notes: ['A stored generated column is computed for every row: the table is rewritten.'],
    });
  } else if (defaultExpr !== undefined) {
    const v = defaultVolatility(defaultExpr);
    if (v.kind === 'volatile') {
      result = finding(op(`ADD COLUMN ${name} with volatile DEFAULT ${v.fn ?? ''}()`), ae, {
        rewrites: true,
        notes: [
          `${v.fn ?? 'The default'}() is volatile: the default is computed for every existing row, rewriting the table while reads and writes wait.`,
        ],
        advice: volatileAdvice(name),
      });
    } else if (v.kind === 'unknown') {
      result = finding(op(`ADD COLUMN ${name} with DEFAULT`), ae, {
        rewrites: true,
        notes: [
          `May not rewrite: cutover cannot tell whether ${v.fn === 'a subquery' ? 'the default' : `${v.fn ?? 'the function'}()`} is volatile. A non-volatile default is stored once in the catalog (no rewrite, PostgreSQL 11+); a volatile one rewrites the table.`,
        ],
      });
    } else {
      result = finding(op(`ADD COLUMN ${name} with non-volatile DEFAULT`), ae, {
        notes: [
          'Brief: since PostgreSQL 11 a non-volatile default is stored once in the catalog; no rewrite.',
        ],
      });
    }
  } else {
    result = finding(op(`ADD COLUMN ${name}`), ae, {
      notes: ['Brief: only the catalog changes; no rewrite.'],
    });
  }
  const hasDefault = defaultExpr !== undefined;
  if (constraints.some((c) => c.contype === 'CONSTR_NOTNULL') && !hasDefault && !result.rewrites) {
    result.notes.push('NOT NULL without a default fails on a table that has rows.');
  }
  for (const c of constraints) {
    if (c.contype === 'CONSTR_CHECK') {
      result = merge(
        result,
        finding('', ae, {
          scans: true,
          notes: ['The CHECK constraint is verified against every row.'],
        }),
      );
    } else if (c.contype === 'CONSTR_FOREIGN') {
      result = merge(
        result,
        finding('', lockOn(rangeVarName(c.pktable), 'SHARE ROW EXCLUSIVE'), {
          scans: hasDefault,
          notes: [
            'REFERENCES also locks the referenced table SHARE ROW EXCLUSIVE (writes to it wait).',
          ],
        }),
      );
    } else if (c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY') {
      result = merge(
        result,
        finding('', ae, {
          scans: true,
          notes: ['Builds a unique index while reads and writes wait.'],
          advice: [
            'Add the column first, then CREATE UNIQUE INDEX CONCURRENTLY and ADD CONSTRAINT … USING INDEX.',
          ],
        }),
      );
    }
  }
  return result;
}

function volatileAdvice(column: string): string[] {
  return [
    `Add ${column || 'the column'} without the default (or with a constant one), backfill existing rows in batches, then SET DEFAULT for new rows.`,
  ];
}

function addConstraint(
  op: (what: string) => string,
  table: string | undefined,
  c: Constraint | undefined,
): Finding {
  const name = c?.conname === undefined ? '' : ` ${c.conname}`;
  const notValid = c?.skip_validation === true;
  const ae = lockOn(table, 'ACCESS EXCLUSIVE');
  switch (c?.contype) {
    case 'CONSTR_FOREIGN': {
      const referenced = rangeVarName(c.pktable);
      const locks = [
        ...lockOn(table, 'SHARE ROW EXCLUSIVE'),
        ...lockOn(referenced, 'SHARE ROW EXCLUSIVE'),
      ];
      if (notValid) {
        return finding(op(`ADD CONSTRAINT${name} FOREIGN KEY … NOT VALID`), locks, {
          notes: [
            'Brief: existing rows are not checked; run VALIDATE CONSTRAINT later (SHARE UPDATE EXCLUSIVE).',
          ],
        });
      }
      return finding(op(`ADD CONSTRAINT${name} FOREIGN KEY`), locks, {
        scans: true,
        notes: ['Checks every existing row while writes to both tables wait.'],
        advice: [
          'Add it NOT VALID, then VALIDATE CONSTRAINT in a later migration (SHARE UPDATE EXCLUSIVE: reads and writes continue).',
        ],
      });
    }
    case 'CONSTR_CHECK':
      if (notValid) {
        return finding(op(`ADD CONSTRAINT${name} CHECK … NOT VALID`), ae, {
          notes: [
            'Brief: existing rows are not checked; run VALIDATE CONSTRAINT later (SHARE UPDATE EXCLUSIVE).',
          ],
        });
      }
      return finding(op(`ADD CONSTRAINT${name} CHECK`), ae, {
        scans: true,
        notes: ['Checks every existing row while reads and writes wait.'],
        advice: [
          'Add it NOT VALID, then VALIDATE CONSTRAINT in a later migration (SHARE UPDATE EXCLUSIVE: reads and writes continue).',
        ],
      });
    case 'CONSTR_UNIQUE':
    case 'CONSTR_PRIMARY': {
      const word = c.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY';
      if (c.indexname !== undefined) {
        return finding(op(`ADD CONSTRAINT${name} ${word} USING INDEX ${c.indexname}`), ae, {
          notes: ['Brief: the existing unique index becomes the constraint.'],
        });
      }
      return finding(op(`ADD CONSTRAINT${name} ${word}`), ae, {
        scans: true,
        notes: ['Builds a unique index with a full scan while reads and writes wait.'],
        advice: [
          `CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … ${word} USING INDEX (brief).`,
        ],
      });
    }
    case 'CONSTR_EXCLUSION':
      return finding(op(`ADD CONSTRAINT${name} EXCLUDE`), ae, {
        scans: true,
        notes: ['Builds an index with a full scan while reads and writes wait.'],
      });
    case 'CONSTR_NOTNULL':
      return finding(op(`ADD CONSTRAINT${name} NOT NULL`), ae, {
        scans: !notValid,
        notes: notValid
          ? []
          : ['Scans the whole table to check for NULLs while holding ACCESS EXCLUSIVE.'],
      });
    default:
      return finding(op(`ADD CONSTRAINT${name}`), ae, { scans: !notValid });
  }
}
