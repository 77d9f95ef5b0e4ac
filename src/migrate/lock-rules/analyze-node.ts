import type { Node } from 'libpg-query';

import { rangeVarName, rangeVars } from '../sql-ast.js';
import { alterTable } from './alter-table.js';
import { createIndex, reindex } from './create-index.js';
import { createTable } from './create-table.js';
import { dropStatement } from './drop-statement.js';
import { finding, lockOn, merge, type Finding } from './finding.js';
import { LOCK_MODES } from './lock-modes.js';
import { readLocks, walkRangeVars } from './read-locks.js';
import { rename } from './rename.js';
import { objectWord, statementName } from './statement-name.js';
import { cluster, refreshMaterializedView, vacuum } from './vacuum.js';

/**
 * The lock rule for one parsed statement (a node of the libpg-query parse
 * tree): dispatches on the statement type to the rules of the table in
 * `analyzeStatement`. A statement type without a rule gives a finding marked
 * `unknown` (ACCESS EXCLUSIVE is assumed).
 */
export function analyzeNode(node: Node): Finding {
  if ('AlterTableStmt' in node) return alterTable(node.AlterTableStmt);
  if ('IndexStmt' in node) return createIndex(node.IndexStmt);
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
  if ('VacuumStmt' in node) return vacuum(node.VacuumStmt);
  if ('ClusterStmt' in node) return cluster(node.ClusterStmt);
  if ('ReindexStmt' in node) return reindex(node.ReindexStmt);
  if ('RefreshMatViewStmt' in node) return refreshMaterializedView(node.RefreshMatViewStmt);
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
    return finding(statementName(node), [], { notes: ['Cannot run inside a transaction block.'] });
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
    return finding(statementName(node), [], { notes });
  }
  return {
    ...finding(statementName(node), [], {
      notes: [
        `cutover has no lock rule for ${statementName(node)} and assumes ACCESS EXCLUSIVE; check the PostgreSQL documentation of the command before running it on a busy table.`,
      ],
    }),
    unknown: true,
  };
}

function dmlExtras(verb: string, noWhere: boolean): Partial<Finding> {
  const advice = [
    `A large ${verb} holds row locks and creates dead rows until it commits; for big tables use a cutover backfill (batched, keyset pagination, checkpointed).`,
  ];
  return noWhere
    ? { scans: true, notes: [`${verb} without WHERE touches every row of the table.`], advice }
    : { advice };
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
