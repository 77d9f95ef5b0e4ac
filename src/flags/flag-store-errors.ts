import { CutoverError } from '../errors/index.js';

/** CutoverError `FLAG_NOT_FOUND` (not_found) for flag `key`. */
export function flagNotFound(key: string): CutoverError {
  return new CutoverError('FLAG_NOT_FOUND', 'not_found', `Flag "${key}" does not exist.`, {
    location: key,
    hint: 'List the flags with `cutover flags list` (or GET /api/admin/flags).',
  });
}

/** CutoverError `FLAG_VERSION_NOT_FOUND` (not_found) for version `version` of flag `key`. */
export function versionNotFound(key: string, version: number): CutoverError {
  return new CutoverError(
    'FLAG_VERSION_NOT_FOUND',
    'not_found',
    `Flag "${key}" has no version ${version}.`,
    {
      location: `${key}@${version}`,
      hint: 'See its versions with `cutover flags history <key>`; version 0 means "absent".',
    },
  );
}

/** CutoverError `CONTROL_SCHEMA_MISSING` (config): the flag tables do not exist. */
export function schemaMissing(): CutoverError {
  return new CutoverError(
    'CONTROL_SCHEMA_MISSING',
    'config',
    'The flag tables of schema "cutover" do not exist in this database.',
    { hint: 'Create them with ensureControlSchema(pool) (every cutover command does it).' },
  );
}

/**
 * Turns PostgreSQL's "relation cutover.… does not exist" (SQLSTATE 42P01)
 * into {@link schemaMissing}; returns other errors unchanged.
 */
export function translateError(error: unknown): unknown {
  if (
    error instanceof Error &&
    (error as { code?: unknown }).code === '42P01' &&
    /cutover\./.test(error.message)
  ) {
    return schemaMissing();
  }
  return error;
}
