import { hasSqlDetails, loadModule, parseSync } from 'libpg-query';
import type { Node, RawStmt } from 'libpg-query';

import { CutoverError } from '../errors/index.js';
import type { SqlStatement } from './migration.js';
import { booleanOption, defElems } from './sql-ast.js';
import {
  codePointIndexToOffset,
  offsetToLineColumn,
  utf8ByteOffsetMapper,
} from './text-position.js';

/**
 * Loads libpg-query's WebAssembly PostgreSQL parser (about 10 ms, once per
 * process; later calls return at once). Must be awaited before the synchronous
 * {@link splitStatements} and {@link parseSql}; `loadMigrations` does it for you.
 */
export async function loadSqlParser(): Promise<void> {
  await loadModule();
}

/**
 * Parses SQL with the real PostgreSQL parser (libpg-query, PostgreSQL 18's
 * grammar). Thin wrapper over `parseSync` that turns "not loaded" into a
 * clear error. Parse errors are rethrown unchanged (a libpg-query `SqlError`
 * with `sqlDetails.cursorPosition`, 0-based in characters).
 *
 * @throws CutoverError `SQL_PARSER_NOT_LOADED` (failed) when {@link loadSqlParser} was not awaited.
 */
export function parseSql(text: string): RawStmt[] {
  try {
    return parseSync(text).stmts ?? [];
  } catch (error) {
    if (error instanceof Error && /not initialized/i.test(error.message)) {
      throw new CutoverError('SQL_PARSER_NOT_LOADED', 'failed', 'The SQL parser is not loaded.', {
        hint: 'Call `await loadSqlParser()` once before splitStatements/analyzeStatement.',
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Splits a SQL script into statements with PostgreSQL's own parser, so
 * dollar-quoted bodies (`$$ … ; … $$`), quoted identifiers, nested comments
 * and `E'…'` strings are never split in the middle.
 *
 * Each statement's `sql` is the exact text from its first token up to (not
 * including) its terminating semicolon — comments before it are not part of
 * it; for the last statement without a semicolon, up to the end of the text
 * with trailing white space removed. Keeping the file's exact characters
 * (CRLF included) means a server error position inside `sql` maps linearly
 * back to the file (see `mapServerErrorPosition`). libpg-query reports
 * statement bounds in UTF-8 bytes; they are converted to JS string offsets.
 *
 * A leading byte-order mark is ignored. `nonTransactional` is set, from the parse tree, on every statement that
 * cannot run inside a transaction block (see {@link nonTransactionalReason}).
 *
 * @param text the SQL script (a whole file, or a section of it).
 * @param file the file's path, for error locations.
 * @param baseOffset where `text` starts in the file (JS string offset); added
 *   to every `offset`. Default 0.
 * @param fileText the whole file when `text` is a section of it: `line` and
 *   `column` are then computed in the file. Default: `text` (line/column are
 *   then relative to `text`, which is right when `baseOffset` is 0).
 * @returns the statements in order; `[]` for an empty or comments-only script.
 * @throws CutoverError `MIGRATION_PARSE_ERROR` (config) with location
 *   `file:line:column` of the parser's error cursor and the parser's message;
 *   `SQL_PARSER_NOT_LOADED` when {@link loadSqlParser} was not awaited.
 */
export function splitStatements(
  text: string,
  file: string,
  baseOffset = 0,
  fileText?: string,
): SqlStatement[] {
  const whole = fileText ?? text;
  const base = fileText === undefined ? 0 : baseOffset;
  if (text.trim() === '') return [];
  // A byte-order mark is not SQL: blank it out (same length in UTF-16 units and
  // code points, so string offsets and the parser's character cursor still hold).
  const parsedText = text.startsWith('\ufeff') ? ` ${text.slice(1)}` : text;
  let raw: RawStmt[];
  try {
    raw = parseSql(parsedText);
  } catch (error) {
    if (!hasSqlDetails(error)) throw error;
    const cursor = error.sqlDetails?.cursorPosition ?? 0;
    const offset = base + codePointIndexToOffset(text, cursor);
    const { line, column } = offsetToLineColumn(whole, offset);
    const location = `${file}:${line}:${column}`;
    throw new CutoverError(
      'MIGRATION_PARSE_ERROR',
      'config',
      `SQL syntax error in ${location}: ${error.message}.`,
      {
        location,
        hint: 'Fix the SQL at that position; cutover parses migrations with the PostgreSQL parser before running anything.',
        details: { file, line, column, parserMessage: error.message },
        cause: error,
      },
    );
  }
  const toIndex = utf8ByteOffsetMapper(parsedText);
  const statements: SqlStatement[] = [];
  for (const rawStmt of raw) {
    const startByte = rawStmt.stmt_location ?? 0;
    const start = toIndex(startByte);
    const end =
      rawStmt.stmt_len === undefined || rawStmt.stmt_len === 0
        ? text.length
        : toIndex(startByte + rawStmt.stmt_len);
    const sql = text.slice(start, end).trimEnd();
    const offset = baseOffset + start;
    const { line, column } = offsetToLineColumn(whole, base + start);
    const statement: SqlStatement = { sql, offset, line, column };
    const reason = rawStmt.stmt === undefined ? undefined : nonTransactionalReason(rawStmt.stmt);
    if (reason !== undefined) statement.nonTransactional = reason;
    statements.push(statement);
  }
  return statements;
}

/**
 * Why a parsed statement cannot run inside a transaction block, or undefined.
 * The list follows the PostgreSQL documentation of each command ("cannot be
 * executed inside a transaction block", i.e. `PreventInTransactionBlock` in
 * the server):
 *
 * - `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY`;
 * - `REINDEX SCHEMA | DATABASE | SYSTEM`;
 * - `VACUUM` (any form; `ANALYZE` alone is fine);
 * - `CLUSTER` without a table;
 * - `CREATE DATABASE`, `DROP DATABASE`, `ALTER DATABASE … SET TABLESPACE`;
 * - `CREATE TABLESPACE`, `DROP TABLESPACE`;
 * - `ALTER SYSTEM`;
 * - `ALTER TABLE … DETACH PARTITION … CONCURRENTLY`;
 * - `CREATE SUBSCRIPTION` (unless `create_slot = false` or `connect = false`),
 *   `DROP SUBSCRIPTION`, `ALTER SUBSCRIPTION … REFRESH PUBLICATION` and
 *   `ALTER SUBSCRIPTION … SET/ADD/DROP PUBLICATION` (unless `refresh = false`);
 * - `COMMIT PREPARED`, `ROLLBACK PREPARED`;
 * - transaction control in the file (`BEGIN`, `COMMIT`, `ROLLBACK`, …): the
 *   file manages its own transactions, so cutover must not wrap it in one.
 */
export function nonTransactionalReason(stmt: Node): string | undefined {
  if ('IndexStmt' in stmt) {
    return stmt.IndexStmt.concurrent === true ? 'CREATE INDEX CONCURRENTLY' : undefined;
  }
  if ('DropStmt' in stmt) {
    const s = stmt.DropStmt;
    return s.concurrent === true ? 'DROP INDEX CONCURRENTLY' : undefined;
  }
  if ('ReindexStmt' in stmt) {
    const s = stmt.ReindexStmt;
    if (booleanOption(s.params, 'concurrently') === true) return 'REINDEX … CONCURRENTLY';
    if (s.kind === 'REINDEX_OBJECT_SCHEMA') return 'REINDEX SCHEMA';
    if (s.kind === 'REINDEX_OBJECT_DATABASE') return 'REINDEX DATABASE';
    if (s.kind === 'REINDEX_OBJECT_SYSTEM') return 'REINDEX SYSTEM';
    return undefined;
  }
  if ('VacuumStmt' in stmt) {
    const s = stmt.VacuumStmt;
    if (s.is_vacuumcmd !== true) return undefined; // ANALYZE
    return booleanOption(s.options, 'full') === true ? 'VACUUM FULL' : 'VACUUM';
  }
  if ('ClusterStmt' in stmt) {
    return stmt.ClusterStmt.relation === undefined ? 'CLUSTER without a table' : undefined;
  }
  if ('CreatedbStmt' in stmt) return 'CREATE DATABASE';
  if ('DropdbStmt' in stmt) return 'DROP DATABASE';
  if ('AlterDatabaseStmt' in stmt) {
    const setsTablespace = defElems(stmt.AlterDatabaseStmt.options).some(
      (d) => d.defname?.toLowerCase() === 'tablespace',
    );
    return setsTablespace ? 'ALTER DATABASE … SET TABLESPACE' : undefined;
  }
  if ('AlterSystemStmt' in stmt) return 'ALTER SYSTEM';
  if ('CreateTableSpaceStmt' in stmt) return 'CREATE TABLESPACE';
  if ('DropTableSpaceStmt' in stmt) return 'DROP TABLESPACE';
  if ('AlterTableStmt' in stmt) {
    for (const cmd of stmt.AlterTableStmt.cmds ?? []) {
      if (!('AlterTableCmd' in cmd)) continue;
      const c = cmd.AlterTableCmd;
      if (c.subtype === 'AT_DetachPartition' && c.def !== undefined && 'PartitionCmd' in c.def) {
        if (c.def.PartitionCmd.concurrent === true)
          return 'ALTER TABLE … DETACH PARTITION … CONCURRENTLY';
      }
    }
    return undefined;
  }
  if ('CreateSubscriptionStmt' in stmt) {
    const options = stmt.CreateSubscriptionStmt.options;
    if (
      booleanOption(options, 'connect') === false ||
      booleanOption(options, 'create_slot') === false
    ) {
      return undefined;
    }
    return 'CREATE SUBSCRIPTION (creates a replication slot)';
  }
  if ('DropSubscriptionStmt' in stmt) return 'DROP SUBSCRIPTION';
  if ('AlterSubscriptionStmt' in stmt) {
    const s = stmt.AlterSubscriptionStmt;
    if (s.kind === 'ALTER_SUBSCRIPTION_REFRESH') return 'ALTER SUBSCRIPTION … REFRESH PUBLICATION';
    if (
      (s.kind === 'ALTER_SUBSCRIPTION_SET_PUBLICATION' ||
        s.kind === 'ALTER_SUBSCRIPTION_ADD_PUBLICATION' ||
        s.kind === 'ALTER_SUBSCRIPTION_DROP_PUBLICATION') &&
      booleanOption(s.options, 'refresh') !== false
    ) {
      return 'ALTER SUBSCRIPTION … PUBLICATION (with refresh)';
    }
    return undefined;
  }
  if ('TransactionStmt' in stmt) {
    const kind = stmt.TransactionStmt.kind;
    if (kind === 'TRANS_STMT_COMMIT_PREPARED') return 'COMMIT PREPARED';
    if (kind === 'TRANS_STMT_ROLLBACK_PREPARED') return 'ROLLBACK PREPARED';
    const words: Record<string, string> = {
      TRANS_STMT_BEGIN: 'BEGIN',
      TRANS_STMT_START: 'START TRANSACTION',
      TRANS_STMT_COMMIT: 'COMMIT',
      TRANS_STMT_ROLLBACK: 'ROLLBACK',
      TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
    };
    const word = kind === undefined ? undefined : words[kind];
    return word === undefined
      ? undefined
      : `transaction control (${word}): the file manages its own transactions`;
  }
  return undefined;
}
