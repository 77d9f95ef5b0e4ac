import { beforeAll, describe, expect, it } from 'vitest';

import { isCutoverError } from '../errors/index.js';
import { loadSqlParser, splitStatements } from './split-statements.js';

beforeAll(async () => {
  await loadSqlParser();
});

function parseErrorOf(text: string, file = 'f.sql'): { location?: string; message: string } {
  try {
    splitStatements(text, file);
  } catch (error) {
    if (isCutoverError(error) && error.code === 'MIGRATION_PARSE_ERROR') {
      return { location: error.location, message: error.message };
    }
    throw error;
  }
  throw new Error('expected a parse error');
}

describe('splitStatements', () => {
  it('keeps dollar-quoted PL/pgSQL bodies with semicolons in one statement', () => {
    const text = [
      'create function touch() returns trigger language plpgsql as $body$',
      'begin',
      '  new.updated_at := now(); -- a ; inside',
      '  return new;',
      'end;',
      '$body$;',
      "do $$ begin raise notice 'a;b'; end $$;",
      'select 1;',
    ].join('\n');
    const statements = splitStatements(text, 'f.sql');
    expect(statements.map((s) => s.sql.split('\n')[0])).toEqual([
      'create function touch() returns trigger language plpgsql as $body$',
      "do $$ begin raise notice 'a;b'; end $$",
      'select 1',
    ]);
    expect(statements[0]?.sql.endsWith('$body$')).toBe(true);
    expect(statements.map((s) => [s.line, s.column])).toEqual([
      [1, 1],
      [7, 1],
      [8, 1],
    ]);
  });

  it('excludes leading comments and the terminating semicolon from each statement', () => {
    const text = '-- first\n/* block\n comment */ select 1 ; -- trailing\n\n  -- x\n  select 2';
    const statements = splitStatements(text, 'f.sql');
    expect(statements.map((s) => s.sql)).toEqual(['select 1', 'select 2']);
    expect(statements[0]).toMatchObject({ line: 3, column: 13, offset: text.indexOf('select 1') });
    expect(statements[1]).toMatchObject({ line: 6, column: 3, offset: text.indexOf('select 2') });
  });

  it('returns no statement for a comments-only or empty script', () => {
    expect(splitStatements('-- nothing here\n/* nor here */\n', 'f.sql')).toEqual([]);
    expect(splitStatements('', 'f.sql')).toEqual([]);
    expect(splitStatements('  \n\t', 'f.sql')).toEqual([]);
    expect(splitStatements(';;', 'f.sql')).toEqual([]);
  });

  it('converts byte offsets to string offsets for non-ASCII text (accents, CJK, emoji)', () => {
    const text =
      "insert into t values ('café ☕ 😀');\ninsert into t values ('日本語');\nselect 'ok'";
    const statements = splitStatements(text, 'f.sql');
    expect(statements.map((s) => s.sql)).toEqual([
      "insert into t values ('café ☕ 😀')",
      "insert into t values ('日本語')",
      "select 'ok'",
    ]);
    for (const s of statements) expect(text.slice(s.offset, s.offset + s.sql.length)).toBe(s.sql);
    expect(statements.map((s) => s.line)).toEqual([1, 2, 3]);
  });

  it('keeps CRLF line breaks inside statements and counts CRLF lines like LF lines', () => {
    const text = 'create table t (\r\n  id int\r\n);\r\n\r\ninsert into t\r\nvalues (1);\r\n';
    const statements = splitStatements(text, 'f.sql');
    expect(statements.map((s) => s.sql)).toEqual([
      'create table t (\r\n  id int\r\n)',
      'insert into t\r\nvalues (1)',
    ]);
    expect(statements.map((s) => s.line)).toEqual([1, 5]);
  });

  it('computes file positions for a section of a file (baseOffset + fileText)', () => {
    const file = '-- migrate:up\nselect 1;\n-- migrate:down\n  select 2;\n';
    const start = file.indexOf('-- migrate:down') + '-- migrate:down\n'.length;
    const [statement] = splitStatements(file.slice(start), 'f.sql', start, file);
    expect(statement).toMatchObject({
      sql: 'select 2',
      offset: file.indexOf('select 2'),
      line: 4,
      column: 3,
    });
  });

  it('reports a syntax error at file:line:column of the parser cursor', () => {
    const error = parseErrorOf('select 1;\n\ncreate tabel t (id int);', 'm/0001_x.sql');
    expect(error.location).toBe('m/0001_x.sql:3:8');
    expect(error.message).toContain('syntax error at or near "tabel"');
  });

  it('reports syntax error columns in characters after non-ASCII text and CRLF', () => {
    expect(parseErrorOf("select 'é😀' frm t;", 'a.sql').location).toBe('a.sql:1:17');
    expect(parseErrorOf("select 1;\r\nselect 'ü' frm t;", 'a.sql').location).toBe('a.sql:2:16');
  });

  it('reports an unterminated string or comment at its start', () => {
    expect(parseErrorOf("select 1;\nselect 'abc", 'a.sql').location).toBe('a.sql:2:8');
    expect(parseErrorOf('select 1;\n /* open', 'a.sql').location).toBe('a.sql:2:2');
  });

  it('reports section errors at the position in the whole file', () => {
    const file = '-- migrate:up\nselect 1;\n-- migrate:down\nselec 2;\n';
    const start = file.indexOf('selec 2');
    try {
      splitStatements(file.slice(start), 'f.sql', start, file);
      expect.unreachable();
    } catch (error) {
      expect(isCutoverError(error) && error.location).toBe('f.sql:4:1');
    }
  });
});

describe('non-transactional statements', () => {
  const cases: [string, string | undefined][] = [
    ['create index concurrently i on t (a)', 'CREATE INDEX CONCURRENTLY'],
    ['create unique index concurrently if not exists i on t (a)', 'CREATE INDEX CONCURRENTLY'],
    ['create index i on t (a)', undefined],
    ['drop index concurrently i', 'DROP INDEX CONCURRENTLY'],
    ['drop index i', undefined],
    ['reindex index concurrently i', 'REINDEX … CONCURRENTLY'],
    ['reindex (concurrently) table t', 'REINDEX … CONCURRENTLY'],
    ['reindex table t', undefined],
    ['reindex schema public', 'REINDEX SCHEMA'],
    ['reindex database d', 'REINDEX DATABASE'],
    ['vacuum', 'VACUUM'],
    ['vacuum analyze t', 'VACUUM'],
    ['vacuum full t', 'VACUUM FULL'],
    ['vacuum (full, verbose) t', 'VACUUM FULL'],
    ['analyze t', undefined],
    ['cluster', 'CLUSTER without a table'],
    ['cluster t using i', undefined],
    ['create database d', 'CREATE DATABASE'],
    ['drop database d', 'DROP DATABASE'],
    ['alter database d set tablespace s', 'ALTER DATABASE … SET TABLESPACE'],
    ['alter database d set work_mem = 1', undefined],
    ['alter system set work_mem = 1', 'ALTER SYSTEM'],
    ["create tablespace s location '/x'", 'CREATE TABLESPACE'],
    ['drop tablespace s', 'DROP TABLESPACE'],
    [
      'alter table p detach partition c concurrently',
      'ALTER TABLE … DETACH PARTITION … CONCURRENTLY',
    ],
    ['alter table p detach partition c', undefined],
    [
      "create subscription s connection 'x' publication p",
      'CREATE SUBSCRIPTION (creates a replication slot)',
    ],
    ["create subscription s connection 'x' publication p with (connect = false)", undefined],
    ['drop subscription s', 'DROP SUBSCRIPTION'],
    ['alter subscription s refresh publication', 'ALTER SUBSCRIPTION … REFRESH PUBLICATION'],
    ["commit prepared 'x'", 'COMMIT PREPARED'],
    ['begin', 'transaction control (BEGIN): the file manages its own transactions'],
    ['commit', 'transaction control (COMMIT): the file manages its own transactions'],
    ['savepoint a', undefined],
    ['create table t (id int)', undefined],
    ["alter type mood add value 'meh'", undefined],
  ];
  it.each(cases)('%s → %s', (sql, reason) => {
    const [statement] = splitStatements(sql, 'f.sql');
    expect(statement?.nonTransactional).toBe(reason);
  });
});
