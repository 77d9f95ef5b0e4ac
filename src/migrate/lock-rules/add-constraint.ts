import type { Constraint } from 'libpg-query';

import { rangeVarName } from '../sql-ast.js';
import { finding, lockOn, type Finding } from './finding.js';

/**
 * ALTER TABLE … ADD CONSTRAINT: FOREIGN KEY (SHARE ROW EXCLUSIVE on both
 * tables), CHECK, UNIQUE / PRIMARY KEY [USING INDEX], EXCLUDE, NOT NULL;
 * NOT VALID skips the scan of existing rows.
 */
export function addConstraint(
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
