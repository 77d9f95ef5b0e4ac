import type { Node } from 'libpg-query';

import { qualifiedName } from '../sql-ast.js';
import { finding, lockOn, type Finding } from './finding.js';
import { objectWord } from './statement-name.js';

/**
 * DROP TABLE, DROP INDEX [CONCURRENTLY], DROP VIEW/SEQUENCE/…, and DROP
 * TRIGGER/RULE/POLICY (which lock their table): the locks and notes of the
 * rule table in `analyzeStatement`.
 */
export function dropStatement(
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
