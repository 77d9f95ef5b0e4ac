import { createHash } from 'node:crypto';

/**
 * The normalized form of a migration file's text that {@link checksumOf} hashes:
 *
 * 1. line breaks: `\r\n` and lone `\r` become `\n`;
 * 2. trailing white space (spaces, tabs, any Unicode white space) of every line is removed;
 * 3. trailing blank lines (and the final line break) are removed.
 *
 * A leading byte-order mark is removed too. Leading white space, blank lines
 * between statements and everything else are kept, so any change a reader
 * could see (even in comments) changes the checksum, while an editor's
 * line-ending or trailing-space conversion does not.
 */
export function normalizeMigrationText(text: string): string {
  const withoutBom = text.startsWith('\ufeff') ? text.slice(1) : text;
  return withoutBom
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n+$/, '');
}

/**
 * sha256 (hex, 64 lower-case characters; `node:crypto`) of the UTF-8 encoding
 * of {@link normalizeMigrationText}(`text`). Stored in the history table to
 * detect an applied migration whose file was changed; invariant under CRLF/LF
 * conversion and trailing white space.
 */
export function checksumOf(text: string): string {
  return createHash('sha256').update(normalizeMigrationText(text), 'utf8').digest('hex');
}
