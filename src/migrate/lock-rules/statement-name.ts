/** Readable names for statement and object types of the parse tree. Internal to `src/migrate`. */
import type { Node } from 'libpg-query';

/** `CreateFunctionStmt` → `CREATE FUNCTION` (a readable name for any statement type). */
export function statementName(node: Node): string {
  const type = (Object.keys(node)[0] ?? 'statement').replace(/Stmt$/, '');
  const words: Record<string, string> = {
    Createdb: 'CREATE DATABASE',
    Dropdb: 'DROP DATABASE',
    CreateTableSpace: 'CREATE TABLESPACE',
    AlterSystem: 'ALTER SYSTEM',
    CreateFunction: 'CREATE FUNCTION',
    CreateSeq: 'CREATE SEQUENCE',
    AlterSeq: 'ALTER SEQUENCE',
    CreateEnum: 'CREATE TYPE … AS ENUM',
    CompositeType: 'CREATE TYPE',
    CreateRange: 'CREATE TYPE … AS RANGE',
    Define: 'CREATE (aggregate/operator/type)',
    Grant: 'GRANT/REVOKE',
    GrantRole: 'GRANT/REVOKE role',
    CheckPoint: 'CHECKPOINT',
    CreatePLang: 'CREATE LANGUAGE',
    CreateEventTrig: 'CREATE EVENT TRIGGER',
  };
  return words[type] ?? type.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}

/** `OBJECT_FOREIGN_TABLE` → `FOREIGN TABLE` (a parse-tree object type in words; default TABLE). */
export function objectWord(objectType: string | undefined): string {
  return (objectType ?? 'OBJECT_TABLE').replace('OBJECT_', '').replace('_', ' ');
}
