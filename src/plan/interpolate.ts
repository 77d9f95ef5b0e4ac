/** A `${NAME}` reference whose variable is not set. */
export interface MissingVariable {
  /** Variable name. */
  name: string;
  /** 0-based offset of the `$` in the input string. */
  offset: number;
}

/** Result of {@link interpolate}. */
export interface InterpolationResult {
  /** The string with every reference replaced (missing ones replaced by ''). */
  value: string;
  /** References to unset variables, in order. */
  missing: MissingVariable[];
}

const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` with the value of environment variable `NAME`.
 *
 * - `${NAME:-default}` uses `default` when `NAME` is unset or empty
 *   (as in POSIX shells and Docker Compose).
 * - `$${` is an escape for a literal `${`.
 * - An unset `${NAME}` (no default) is reported in `missing`; an empty one is
 *   replaced by the empty string.
 * - Text that is not a reference (a lone `$`, `${1}`) is kept as is.
 */
export function interpolate(
  input: string,
  env: Readonly<Record<string, string | undefined>>,
): InterpolationResult {
  const missing: MissingVariable[] = [];
  const value = input.replace(
    PATTERN,
    (match: string, name: string | undefined, fallback: string | undefined, offset: number) => {
      if (match === '$${') return '${';
      if (name === undefined) return match;
      const found = env[name];
      if (fallback !== undefined) return found === undefined || found === '' ? fallback : found;
      if (found === undefined) {
        missing.push({ name, offset });
        return '';
      }
      return found;
    },
  );
  return { value, missing };
}
