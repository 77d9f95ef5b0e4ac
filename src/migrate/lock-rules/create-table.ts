import type { Constraint, Node, RangeVar } from 'libpg-query';

import { rangeVarName, rangeVars } from '../sql-ast.js';
import { finding, lockOn, merge, type Finding } from './finding.js';

/**
 * CREATE TABLE: no lock on existing tables, except SHARE ROW EXCLUSIVE on the
 * tables its foreign keys reference, ACCESS SHARE on LIKE sources, SHARE
 * UPDATE EXCLUSIVE on INHERITS parents and ACCESS EXCLUSIVE on the parent of
 * PARTITION OF.
 */
export function createTable(
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
