import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { checksumOf, normalizeMigrationText } from './checksum.js';

/** Lines of printable text without line breaks or trailing white space. */
const line = fc.string({ maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, '').trimEnd());
const lines = fc.array(line, { minLength: 1, maxLength: 12 });

describe('checksumOf', () => {
  it('is a 64-character sha256 hex digest', () => {
    expect(checksumOf('select 1;')).toMatch(/^[0-9a-f]{64}$/);
    // sha256("select 1;")
    expect(checksumOf('select 1;\n')).toBe(checksumOf('select 1;'));
  });

  it('is invariant under CRLF/CR line endings, trailing white space and trailing blank lines', () => {
    fc.assert(
      fc.property(
        lines,
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.array(fc.constantFrom('', ' ', '\t', '  \t'), { minLength: 12, maxLength: 12 }),
        fc.nat({ max: 3 }),
        (ls, newline, trailing, blankLines) => {
          const original = ls.join('\n');
          const variant =
            ls.map((l, i) => l + (trailing[i] ?? '')).join(newline) + newline.repeat(blankLines);
          expect(checksumOf(variant)).toBe(checksumOf(original));
        },
      ),
    );
  });

  it('changes when visible content changes', () => {
    fc.assert(
      fc.property(lines, fc.nat(), fc.string({ minLength: 1, maxLength: 5 }), (ls, at, insert) => {
        const visible = insert.replace(/\s/g, '');
        fc.pre(visible !== '');
        const original = ls.join('\n');
        const index = at % ls.length;
        const changed = ls.map((l, i) => (i === index ? `${visible}${l}` : l)).join('\n');
        expect(checksumOf(changed)).not.toBe(checksumOf(original));
      }),
    );
  });

  it('keeps leading white space and inner blank lines significant', () => {
    expect(checksumOf('  select 1;')).not.toBe(checksumOf('select 1;'));
    expect(checksumOf('select 1;\n\nselect 2;')).not.toBe(checksumOf('select 1;\nselect 2;'));
  });

  it('normalizes as documented', () => {
    expect(normalizeMigrationText('\ufeffa  \r\nb\t\rc\n\n \n')).toBe('a\nb\nc');
  });
});
