import { CutoverError } from '../errors/index.js';
import { describeMigration } from './migration-status.js';
import type { Migration, MigrationClient, SqlStatement } from './migration.js';
import type { MigrationDirection } from './migrator-types.js';
import { importTypeScriptMigration } from './sources/typescript-source.js';

/** How the history changes when a step succeeds. */
export type HistoryChange =
  | { type: 'insert-versioned'; version: string }
  | { type: 'upsert-repeatable' }
  /** `version` exactly as recorded in the history row. */
  | { type: 'delete-versioned'; version: string };

/** A migration script checked and ready to run (everything that can be refused is refused here). */
export interface PreparedStep {
  migration: Migration;
  direction: MigrationDirection;
  file: string;
  transactional: boolean;
  nonTransactionalReason?: string;
  history: HistoryChange;
  /** SQL scripts: the statements to send (an outer BEGIN/COMMIT pair removed). */
  sql?: { statements: SqlStatement[]; fileText: string };
  /** TypeScript scripts: the exported function. */
  run?: (db: MigrationClient) => Promise<unknown>;
}

const TX_START = /^\s*(?:begin(?:\s+(?:work|transaction))?|start\s+transaction)\b(?!\s+atomic)/i;
const TX_END = /^\s*(?:commit|end)(?:\s+(?:work|transaction))?\s*$/i;
const TX_OTHER =
  /^\s*(?:begin|start\s+transaction|commit|end|rollback|abort|savepoint|release|prepare\s+transaction|commit\s+prepared|rollback\s+prepared)\b/i;

/** Strips leading `--` and block comments so statement keywords can be checked. */
function stripLeadingComments(sql: string): string {
  let s = sql;
  for (;;) {
    const next = s
      .replace(/^\s+/, '')
      .replace(/^--[^\n]*\n?/, '')
      .replace(/^\/\*[\s\S]*?\*\//, '');
    if (next === s) return s;
    s = next;
  }
}

/**
 * Checks one direction of a migration and makes it runnable, without touching
 * the database: the script must exist and not be empty (going down), an outer
 * `BEGIN; … COMMIT;` pair written in the file is removed (cutover opens the
 * transaction itself), any other transaction-control statement is refused,
 * and a TypeScript module is imported (through tsx) and must export the
 * function.
 *
 * @param location formats `file:line:column` for messages.
 * @throws CutoverError `MIGRATION_DOWN_MISSING` (config) when going down
 *   without a down script; `MIGRATION_TRANSACTION_CONTROL` (config) naming the
 *   statement; `MIGRATION_PARSE_ERROR` (config) for a TypeScript module that
 *   fails to import.
 */
export async function prepareStep(
  migration: Migration,
  direction: MigrationDirection,
  history: HistoryChange,
  location: (file: string, line?: number, column?: number) => string,
): Promise<PreparedStep> {
  const script = direction === 'up' ? migration.up : migration.down;
  const what = describeMigration(migration.version, migration.name);
  const emptyDown =
    direction === 'down' && script?.type === 'sql' && script.statements.length === 0;
  if (script === undefined || emptyDown) {
    throw new CutoverError(
      'MIGRATION_DOWN_MISSING',
      'config',
      `Cannot revert ${what}: it has ${emptyDown ? 'an empty down section' : 'no down migration'}; nothing was reverted.`,
      {
        location: location(migration.files[0] ?? ''),
        hint: downHint(migration),
      },
    );
  }
  const base: Omit<PreparedStep, 'sql' | 'run'> = {
    migration,
    direction,
    file: script.file,
    transactional: script.transactional,
    ...(script.nonTransactionalReason === undefined
      ? {}
      : { nonTransactionalReason: script.nonTransactionalReason }),
    history,
  };
  if (script.type === 'sql') {
    let statements = [...script.statements];
    const first = statements[0];
    const last = statements.at(-1);
    if (
      statements.length >= 2 &&
      first !== undefined &&
      last !== undefined &&
      TX_START.test(stripLeadingComments(first.sql)) &&
      TX_END.test(stripLeadingComments(last.sql))
    ) {
      statements = statements.slice(1, -1);
      // The file wrapped itself in one transaction: cutover's own transaction
      // replaces it. The BEGIN was what made the parser mark it non-transactional.
      if (script.nonTransactionalReason?.startsWith('transaction control') === true) {
        const blocking = statements.find(
          (st) => st.nonTransactional !== undefined && !TX_OTHER.test(stripLeadingComments(st.sql)),
        );
        if (blocking === undefined) {
          base.transactional = true;
          delete base.nonTransactionalReason;
        } else {
          base.nonTransactionalReason = `${blocking.nonTransactional ?? ''} cannot run inside a transaction block (line ${blocking.line})`;
        }
      }
    }
    for (const s of statements) {
      if (TX_OTHER.test(stripLeadingComments(s.sql)) && !/^\s*begin\s+atomic\b/i.test(s.sql)) {
        throw new CutoverError(
          'MIGRATION_TRANSACTION_CONTROL',
          'config',
          `${what} controls transactions itself (${stripLeadingComments(s.sql).split(/\s+/, 1)[0]?.toUpperCase() ?? ''}); cutover runs each migration in its own transaction, so this is refused before anything runs.`,
          {
            location: location(script.file, s.line, s.column),
            hint: 'Remove the statement. For several transactions, split the file into several migrations; for statements that cannot run in a transaction use dbmate\'s "-- migrate:up transaction:false".',
          },
        );
      }
    }
    return { ...base, sql: { statements, fileText: script.fileText } };
  }
  // Imported again here (fresh namespace); errors are MIGRATION_PARSE_ERROR at file:line:col.
  const mod = await importTypeScriptMigration(script.file);
  const fn = script.exportName === 'up' ? mod.up : mod.down;
  if (fn === undefined) {
    throw new CutoverError(
      'MIGRATION_DOWN_MISSING',
      'config',
      `Cannot revert ${what}: the module does not export down(db); nothing was reverted.`,
      { location: location(script.file), hint: downHint(migration) },
    );
  }
  const run = (db: MigrationClient): Promise<unknown> => Promise.resolve(fn(db));
  return { ...base, run };
}

function downHint(migration: Migration): string {
  switch (migration.layout) {
    case 'native':
      return 'Add a "-- migrate:down" section with the statements that undo the migration.';
    case 'golang-migrate':
      return 'Add the matching .down.sql file.';
    case 'flyway':
      return 'Add the matching U<version>__<name>.sql undo file.';
    case 'prisma':
      return 'Add a down.sql file beside migration.sql.';
    case 'typescript':
      return 'Export a down(db) function from the module.';
  }
}
