import { hasSqlDetails } from 'libpg-query';
import type { Node } from 'libpg-query';

import { CutoverError } from '../errors/index.js';
import { analyzeNode } from './lock-rules/analyze-node.js';
import { emptyFinding, merge, toAnalysis } from './lock-rules/finding.js';
import type { SqlStatement, StatementAnalysis } from './migration.js';
import { parseSql } from './split-statements.js';
import { codePointIndexToOffset, offsetToLineColumn } from './text-position.js';

export { LOCK_MODES, describeLockMode, strongerLock } from './lock-rules/lock-modes.js';

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
