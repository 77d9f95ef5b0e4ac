import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeError } from './describe-error.js';

describe('describeError', () => {
  it('gives the message of an Error on one line, a string as is, other values as JSON', () => {
    expect(describeError(new Error('first\n  second'))).toBe('first second');
    expect(describeError('plain')).toBe('plain');
    expect(describeError({ reason: 'bad row' })).toBe('{"reason":"bad row"}');
    expect(describeError(42)).toBe('42');
    expect(describeError(undefined)).toBe('undefined was thrown');
  });

  it('never answers "[object Object]", whatever was thrown (also circular objects)', () => {
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    expect(describeError(circular)).toBe('a non-Error value was thrown (name, self)');
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const text = describeError(value);
        expect(typeof text).toBe('string');
        expect(text).not.toContain('[object Object]');
      }),
    );
  });
});
