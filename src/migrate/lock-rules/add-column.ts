import type { ColumnDef } from 'libpg-query';

import { rangeVarName, typeNameOf } from '../sql-ast.js';
import { defaultVolatility } from './default-volatility.js';
import { finding, lockOn, merge, type Finding } from './finding.js';

/** Column types that come with a nextval() default (volatile: ADD COLUMN rewrites the table). */
const SERIAL_TYPES = new Set([
  'serial',
  'serial4',
  'bigserial',
  'serial8',
  'smallserial',
  'serial2',
]);

/**
 * ALTER TABLE … ADD COLUMN: brief (catalog only) unless the column needs a
 * value per row (a volatile default, serial, identity, stored generated),
 * plus what its inline CHECK / REFERENCES / UNIQUE / PRIMARY KEY constraints
 * scan or lock.
 */
export function addColumn(
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
