/**
 * A readable one-line text for any thrown value, for messages: an `Error`'s
 * message (line breaks folded into spaces), a string as is, anything else as
 * JSON (e.g. `{"reason":"bad row"}` for `throw { reason: 'bad row' }`), never
 * `[object Object]`.
 */
export function describeError(value: unknown): string {
  if (value instanceof Error) return value.message.replace(/\s*\n\s*/g, ' ');
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined was thrown';
  try {
    const json = JSON.stringify(value);
    if (json !== undefined && json !== '{}') return json;
  } catch {
    // circular: fall through
  }
  if (typeof value === 'object' && value !== null) {
    return `a non-Error value was thrown (${Object.keys(value).join(', ') || 'an empty object'})`;
  }
  if (typeof value === 'function') return `a function was thrown (${value.name || 'anonymous'})`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'bigint') return value.toString();
  return 'an unprintable value was thrown';
}
