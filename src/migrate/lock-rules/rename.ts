import type { RenameStmt } from 'libpg-query';

import { rangeVarName } from '../sql-ast.js';
import { finding, lockOn, type Finding } from './finding.js';
import { objectWord } from './statement-name.js';

/**
 * ALTER … RENAME (table, column, constraint, index, trigger…): ACCESS
 * EXCLUSIVE, except ALTER INDEX RENAME (SHARE UPDATE EXCLUSIVE).
 */
export function rename(s: RenameStmt): Finding {
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
