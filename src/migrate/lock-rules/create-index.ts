import type { IndexStmt, ReindexStmt } from 'libpg-query';

import { booleanOption, rangeVarName } from '../sql-ast.js';
import { finding, lockOn, type Finding } from './finding.js';

/** CREATE [UNIQUE] INDEX: SHARE (blocks writes); CONCURRENTLY: SHARE UPDATE EXCLUSIVE. Both scan the table. */
export function createIndex(s: IndexStmt): Finding {
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

/**
 * REINDEX: SHARE on the table and ACCESS EXCLUSIVE on each index rebuilt;
 * CONCURRENTLY: SHARE UPDATE EXCLUSIVE.
 */
export function reindex(s: ReindexStmt): Finding {
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
