import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-database.js';
import { parseNativeFile } from './sources/native-source.js';
import { loadSqlParser, splitStatements } from './split-statements.js';
import {
  codePointIndexToOffset,
  mapServerErrorPosition,
  offsetToLineColumn,
  utf8ByteOffsetMapper,
} from './text-position.js';

describe('offsetToLineColumn', () => {
  it('counts LF, CRLF and lone CR line breaks alike', () => {
    for (const nl of ['\n', '\r\n', '\r']) {
      const text = `ab${nl}cd${nl}${nl}e`;
      expect(offsetToLineColumn(text, 0)).toEqual({ line: 1, column: 1 });
      expect(offsetToLineColumn(text, text.indexOf('d'))).toEqual({ line: 2, column: 2 });
      expect(offsetToLineColumn(text, text.indexOf('e'))).toEqual({ line: 4, column: 1 });
    }
  });

  it('counts columns in characters, so an emoji is one column', () => {
    const text = 'x😀y';
    expect(offsetToLineColumn(text, text.indexOf('y'))).toEqual({ line: 1, column: 3 });
  });

  it('clamps offsets outside the text', () => {
    expect(offsetToLineColumn('ab\ncd', 99)).toEqual({ line: 2, column: 3 });
    expect(offsetToLineColumn('ab', -5)).toEqual({ line: 1, column: 1 });
  });
});

describe('offset conversions', () => {
  it('maps code point indexes to string offsets across surrogate pairs', () => {
    expect(codePointIndexToOffset('a😀b', 2)).toBe(3);
    expect(codePointIndexToOffset('abc', 10)).toBe(3);
  });

  it('maps UTF-8 byte offsets to string offsets', () => {
    const text = 'aé☕😀b';
    const toIndex = utf8ByteOffsetMapper(text);
    // bytes: a=1, é=2, ☕=3, 😀=4
    expect([0, 1, 3, 6, 10, 11].map(toIndex)).toEqual([0, 1, 2, 3, 5, 6]);
  });
});

describe('mapServerErrorPosition against a real PostgreSQL error', () => {
  let db: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase('pos');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  async function serverPosition(sql: string): Promise<number> {
    const error = (await client.query(sql).then(
      () => undefined,
      (e: unknown) => e,
    )) as { position?: string } | undefined;
    expect(error?.position).toBeDefined();
    return Number(error?.position);
  }

  it('maps the position of an unknown column to its file line and column (CRLF, emoji)', async () => {
    const fileText = [
      '-- header ✓',
      'select 1;',
      '',
      "select 'é😀',",
      '       no_such_column',
      'from (select 1) x;',
      '',
    ].join('\r\n');
    const statements = splitStatements(fileText, 'f.sql');
    const failing = statements[1];
    if (failing === undefined) throw new Error('expected two statements');
    const position = await serverPosition(failing.sql);
    expect(mapServerErrorPosition(failing, fileText, position)).toEqual({ line: 5, column: 8 });
  });

  it('maps positions inside a dbmate down section', async () => {
    const fileText =
      '-- migrate:up\ncreate table a (id int);\n\n-- migrate:down\n-- comment\ndrop table a;\n  select nope from (select 1) s;\n';
    const { down } = parseNativeFile('f.sql', fileText);
    const failing = down?.statements[1];
    if (failing === undefined) throw new Error('expected a down statement');
    const position = await serverPosition(failing.sql);
    expect(mapServerErrorPosition(failing, fileText, position)).toEqual({ line: 7, column: 10 });
  });

  it('falls back to the statement start for a missing or bad position', () => {
    const fileText = 'select 1;\n  select 2;';
    const statement = splitStatements(fileText, 'f.sql')[1];
    if (statement === undefined) throw new Error('expected two statements');
    expect(mapServerErrorPosition(statement, fileText, Number(undefined))).toEqual({
      line: 2,
      column: 3,
    });
    expect(mapServerErrorPosition(statement, fileText, 0)).toEqual({ line: 2, column: 3 });
  });
});
