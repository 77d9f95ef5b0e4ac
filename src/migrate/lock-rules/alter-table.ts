import type { AlterTableCmd, AlterTableStmt } from 'libpg-query';

import { defElems, rangeVarName, typeNameOf } from '../sql-ast.js';
import { addColumn } from './add-column.js';
import { addConstraint } from './add-constraint.js';
import { emptyFinding, finding, lockOn, merge, type Finding } from './finding.js';
import { objectWord } from './statement-name.js';

/** Target types to which common conversions are binary coercible (no rewrite when the old type allows it). */
const MAYBE_COERCIBLE_TYPES = new Set([
  'text',
  'varchar',
  'numeric',
  'varbit',
  'citext',
  'inet',
  'timestamptz',
  'bpchar',
]);

/**
 * ALTER TABLE / ALTER INDEX / … with its subcommands: each subcommand's lock
 * (from `AlterTableGetLockLevel()` and the ALTER TABLE reference page),
 * merged; the rows of the rule table in `analyzeStatement`.
 */
export function alterTable(stmt: AlterTableStmt): Finding {
  const table = rangeVarName(stmt.relation);
  const objectKind =
    stmt.objtype === 'OBJECT_INDEX'
      ? 'ALTER INDEX'
      : stmt.objtype === 'OBJECT_TABLE' || stmt.objtype === undefined
        ? 'ALTER TABLE'
        : `ALTER ${objectWord(stmt.objtype)}`;
  let result = emptyFinding('');
  for (const cmdNode of stmt.cmds ?? []) {
    if (!('AlterTableCmd' in cmdNode)) continue;
    result = merge(result, alterTableCommand(objectKind, table, cmdNode.AlterTableCmd));
  }
  if (result.operation === '') result.operation = objectKind;
  return result;
}

function alterTableCommand(kind: string, table: string | undefined, cmd: AlterTableCmd): Finding {
  const op = (what: string): string => `${kind} … ${what}`;
  const ae = lockOn(table, 'ACCESS EXCLUSIVE');
  const sue = lockOn(table, 'SHARE UPDATE EXCLUSIVE');
  const column = cmd.name === undefined ? '' : ` ${cmd.name}`;
  switch (cmd.subtype) {
    case 'AT_AddColumn':
      return addColumn(
        op,
        table,
        cmd.def !== undefined && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined,
      );
    case 'AT_AlterColumnType': {
      const def = cmd.def !== undefined && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
      const target = typeNameOf(def?.typeName);
      const using = def?.raw_default !== undefined;
      const maybe = !using && target !== undefined && MAYBE_COERCIBLE_TYPES.has(target);
      return finding(op(`ALTER COLUMN${column} TYPE ${target ?? ''}`.trimEnd()), ae, {
        rewrites: true,
        scans: true,
        notes: [
          maybe
            ? 'May not rewrite: PostgreSQL skips the rewrite when the old type is binary coercible to the new one (e.g. varchar(n) → text or a longer varchar, numeric(p,s) → a larger precision); indexes on the column are still rebuilt.'
            : 'Rewrites the table and rebuilds its indexes while reads and writes wait.',
        ],
        advice: [
          'For a big table, add a new column, backfill it in batches, switch the code, then drop the old one (expand/contract).',
        ],
      });
    }
    case 'AT_SetNotNull':
      return finding(op(`ALTER COLUMN${column} SET NOT NULL`), ae, {
        scans: true,
        notes: [
          'Scans the whole table to check for NULLs while holding ACCESS EXCLUSIVE (no scan when a valid CHECK (col IS NOT NULL) constraint exists, PostgreSQL 12+).',
        ],
        advice: [
          `Add CHECK (${cmd.name ?? 'col'} IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE) in a later migration; SET NOT NULL then skips the scan, and the CHECK can be dropped.`,
        ],
      });
    case 'AT_DropNotNull':
      return finding(op(`ALTER COLUMN${column} DROP NOT NULL`), ae);
    case 'AT_ColumnDefault':
    case 'AT_CookedColumnDefault':
      return finding(
        op(`ALTER COLUMN${column} ${cmd.def === undefined ? 'DROP DEFAULT' : 'SET DEFAULT'}`),
        ae,
        {
          notes: ['Changes only the catalog (existing rows are not touched).'],
        },
      );
    case 'AT_AddConstraint':
    case 'AT_ReAddConstraint':
      return addConstraint(
        op,
        table,
        cmd.def !== undefined && 'Constraint' in cmd.def ? cmd.def.Constraint : undefined,
      );
    case 'AT_AddIndexConstraint':
      return finding(op('ADD CONSTRAINT … USING INDEX'), ae, {
        notes: [
          'Brief: the existing index becomes the constraint (a PRIMARY KEY also checks NOT NULL, which scans nullable columns).',
        ],
      });
    case 'AT_AddIndex':
      return finding(op('ADD INDEX'), ae, { scans: true });
    case 'AT_ValidateConstraint':
      return finding(op(`VALIDATE CONSTRAINT${column}`), sue, {
        scans: true,
        notes: [
          'Scans the table without blocking reads or writes (a foreign key also takes ROW SHARE on the referenced table).',
        ],
      });
    case 'AT_DropConstraint':
      return finding(op(`DROP CONSTRAINT${column}`), ae, {
        notes: ['For a foreign key, the referenced table is locked too.'],
      });
    case 'AT_AlterConstraint':
      return finding(op(`ALTER CONSTRAINT${column}`), ae);
    case 'AT_DropColumn':
      return finding(op(`DROP COLUMN${column}`), ae, {
        notes: [
          'Brief: the column is only marked dropped (its space is reclaimed by later updates/VACUUM FULL).',
        ],
        advice: [
          'Drop a column only in the contract phase, after no running code reads or writes it.',
        ],
      });
    case 'AT_SetTableSpace':
      return finding(op('SET TABLESPACE'), ae, {
        rewrites: true,
        notes: ['Copies every data file to the new tablespace while reads and writes wait.'],
      });
    case 'AT_SetAccessMethod':
      return finding(op('SET ACCESS METHOD'), ae, { rewrites: true });
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
      return finding(op(cmd.subtype === 'AT_SetLogged' ? 'SET LOGGED' : 'SET UNLOGGED'), ae, {
        rewrites: true,
      });
    case 'AT_EnableTrig':
    case 'AT_EnableAlwaysTrig':
    case 'AT_EnableReplicaTrig':
    case 'AT_EnableTrigAll':
    case 'AT_EnableTrigUser':
      return finding(op(`ENABLE TRIGGER${column}`), lockOn(table, 'SHARE ROW EXCLUSIVE'));
    case 'AT_DisableTrig':
    case 'AT_DisableTrigAll':
    case 'AT_DisableTrigUser':
      return finding(op(`DISABLE TRIGGER${column}`), lockOn(table, 'SHARE ROW EXCLUSIVE'));
    case 'AT_SetStatistics':
    case 'AT_SetOptions':
    case 'AT_ResetOptions':
    case 'AT_ClusterOn':
    case 'AT_DropCluster':
      return finding(op(subtypeWords(cmd.subtype)), sue);
    case 'AT_SetRelOptions':
    case 'AT_ResetRelOptions': {
      const strong = defElems(
        cmd.def !== undefined && 'List' in cmd.def ? cmd.def.List.items : undefined,
      ).some((d) =>
        ['security_barrier', 'check_option', 'security_invoker'].includes(d.defname ?? ''),
      );
      return finding(
        op(
          cmd.subtype === 'AT_SetRelOptions'
            ? 'SET (storage parameters)'
            : 'RESET (storage parameters)',
        ),
        strong ? ae : sue,
      );
    }
    case 'AT_AttachPartition': {
      const partition =
        cmd.def !== undefined && 'PartitionCmd' in cmd.def
          ? rangeVarName(cmd.def.PartitionCmd.name)
          : undefined;
      if (kind === 'ALTER INDEX') return finding(op('ATTACH PARTITION'), sue);
      return finding(
        op(`ATTACH PARTITION ${partition ?? ''}`.trimEnd()),
        [...sue, ...lockOn(partition, 'ACCESS EXCLUSIVE')],
        {
          scans: true,
          notes: [
            'Scans the new partition to check the partition bound (skipped when a valid CHECK constraint implies it); a DEFAULT partition is locked ACCESS EXCLUSIVE and scanned too.',
          ],
          advice: [
            'Add a CHECK constraint matching the bound to the partition first (NOT VALID, then VALIDATE) so the attach skips the scan.',
          ],
        },
      );
    }
    case 'AT_DetachPartition': {
      const pc =
        cmd.def !== undefined && 'PartitionCmd' in cmd.def ? cmd.def.PartitionCmd : undefined;
      const partition = rangeVarName(pc?.name);
      if (pc?.concurrent === true) {
        return finding(
          op(`DETACH PARTITION ${partition ?? ''} CONCURRENTLY`.replace('  ', ' ')),
          [...sue, ...lockOn(partition, 'SHARE UPDATE EXCLUSIVE')],
          {
            notes: ['Cannot run inside a transaction block (PostgreSQL 14+).'],
          },
        );
      }
      return finding(
        op(`DETACH PARTITION ${partition ?? ''}`.trimEnd()),
        [...ae, ...lockOn(partition, 'ACCESS EXCLUSIVE')],
        {
          advice: [
            'Use DETACH PARTITION … CONCURRENTLY (PostgreSQL 14+, outside a transaction) to keep the parent readable and writable.',
          ],
        },
      );
    }
    case 'AT_DetachPartitionFinalize':
      return finding(op('DETACH PARTITION … FINALIZE'), sue);
    case 'AT_SetExpression':
      return finding(op(`ALTER COLUMN${column} SET EXPRESSION`), ae, { rewrites: true });
    default:
      return finding(op(subtypeWords(cmd.subtype)), ae);
  }
}

function subtypeWords(subtype: string | undefined): string {
  const words: Record<string, string> = {
    AT_SetStatistics: 'SET STATISTICS',
    AT_SetOptions: 'ALTER COLUMN SET (options)',
    AT_ResetOptions: 'ALTER COLUMN RESET (options)',
    AT_ClusterOn: 'CLUSTER ON',
    AT_DropCluster: 'SET WITHOUT CLUSTER',
    AT_ChangeOwner: 'OWNER TO',
    AT_EnableRowSecurity: 'ENABLE ROW LEVEL SECURITY',
    AT_DisableRowSecurity: 'DISABLE ROW LEVEL SECURITY',
    AT_ForceRowSecurity: 'FORCE ROW LEVEL SECURITY',
    AT_NoForceRowSecurity: 'NO FORCE ROW LEVEL SECURITY',
    AT_AddIdentity: 'ADD GENERATED AS IDENTITY',
    AT_SetIdentity: 'SET GENERATED/sequence options',
    AT_DropIdentity: 'DROP IDENTITY',
    AT_DropExpression: 'DROP EXPRESSION',
    AT_SetStorage: 'SET STORAGE',
    AT_SetCompression: 'SET COMPRESSION',
    AT_ReplicaIdentity: 'REPLICA IDENTITY',
    AT_AddInherit: 'INHERIT',
    AT_DropInherit: 'NO INHERIT',
    AT_AddOf: 'OF type',
    AT_DropOf: 'NOT OF',
    AT_EnableRule: 'ENABLE RULE',
    AT_DisableRule: 'DISABLE RULE',
    AT_GenericOptions: 'OPTIONS',
  };
  return words[subtype ?? ''] ?? (subtype ?? 'subcommand').replace(/^AT_/, '');
}
