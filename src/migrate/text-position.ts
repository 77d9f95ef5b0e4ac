/**
 * Conversions between the ways positions in SQL text are counted:
 * JS string offsets (UTF-16 code units), PostgreSQL character positions
 * (code points, as in the server's error `position` and the parser's error
 * cursor) and UTF-8 byte offsets (libpg_query's `stmt_location`/`stmt_len`).
 */

import type { SqlStatement } from './migration.js';

/** A 1-based line and column in a text file. */
export interface LineColumn {
  /** 1-based line number. `\n`, `\r\n` and a lone `\r` each end a line. */
  line: number;
  /** 1-based column, counted in characters (Unicode code points) from the start of the line. */
  column: number;
}

/**
 * The 1-based line and column of `offset` (a 0-based JS string offset, UTF-16
 * code units) in `text`. Line breaks are `\n`, `\r\n` and a lone `\r` (so CRLF
 * files count lines like LF files); columns count code points, so a character
 * outside the BMP (an emoji) is one column. Offsets past the end clamp to the
 * end of the text; negative offsets clamp to 0.
 */
export function offsetToLineColumn(text: string, offset: number): LineColumn {
  const end = Math.max(0, Math.min(Math.trunc(offset), text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      lineStart = i + 1;
    } else if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) {
        if (i + 1 >= end) break; // offset points at the \n of a CRLF: still on this line
        i++;
      }
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: codePointCount(text, lineStart, end) + 1 };
}

/** The number of code points in `text.slice(start, end)` (a surrogate pair counts once). */
function codePointCount(text: string, start: number, end: number): number {
  let count = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/**
 * The JS string offset (UTF-16 code units) of the `index`-th code point
 * (0-based) of `text`, clamped to `text.length`. PostgreSQL counts positions
 * in characters; JS strings in UTF-16 units; they differ only for characters
 * outside the BMP.
 */
export function codePointIndexToOffset(text: string, index: number): number {
  let remaining = Math.max(0, Math.trunc(index));
  let i = 0;
  while (remaining > 0 && i < text.length) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && isLowSurrogate(text, i + 1) ? 2 : 1;
    remaining--;
  }
  return i;
}

function isLowSurrogate(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Maps UTF-8 byte offsets of `text` to JS string offsets. libpg_query reports
 * `stmt_location` and `stmt_len` in bytes of the UTF-8 encoded query. Returns
 * the identity for pure-ASCII text. A byte offset inside a multi-byte
 * character maps to that character's start; offsets past the end clamp.
 */
export function utf8ByteOffsetMapper(text: string): (byteOffset: number) => number {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) {
    return (byteOffset) => Math.max(0, Math.min(byteOffset, text.length));
  }
  const byteToIndex: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let width: number;
    let units = 1;
    if (c < 0x80) width = 1;
    else if (c < 0x800) width = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && isLowSurrogate(text, i + 1)) {
      width = 4;
      units = 2;
    } else width = 3; // BMP character or a lone surrogate (encoded as U+FFFD, 3 bytes)
    for (let b = 0; b < width; b++) byteToIndex.push(i);
    i += units - 1;
  }
  const total = byteToIndex.length;
  return (byteOffset) => {
    if (byteOffset <= 0) return 0;
    if (byteOffset >= total) return text.length;
    return byteToIndex[byteOffset] ?? text.length;
  };
}

/**
 * Maps a PostgreSQL server error position to the 1-based line and column in
 * the migration file.
 *
 * @param statement the statement that failed, as returned by `splitStatements`
 *   (its `offset` is where `statement.sql` starts in the file).
 * @param fileText the whole text of the file (`SqlScript.fileText`).
 * @param position PostgreSQL's error position (`DatabaseError.position` of
 *   `pg`, a string there — convert with `Number`): the 1-based character
 *   (code point) position within the statement text exactly as sent, i.e.
 *   `statement.sql`. Values below 1 or not finite map to the statement's start;
 *   values past its end clamp to its end.
 * @returns the 1-based file line and column (columns in code points, as
 *   {@link offsetToLineColumn}).
 */
export function mapServerErrorPosition(
  statement: SqlStatement,
  fileText: string,
  position: number,
): LineColumn {
  const index = Number.isFinite(position) && position >= 1 ? position - 1 : 0;
  const inStatement = codePointIndexToOffset(statement.sql, index);
  return offsetToLineColumn(fileText, statement.offset + inStatement);
}
