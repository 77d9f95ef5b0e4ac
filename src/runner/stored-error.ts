import { describeError, isCutoverError } from '../errors/index.js';
import type { StoredError } from '../store/run-records.js';
import { isDatabaseError } from '../db/index.js';

/** The JSON form of an error as stored with a step or run. */
export function toStoredError(error: unknown): StoredError {
  if (isCutoverError(error)) {
    const json = error.toJSON() as unknown as StoredError;
    return json;
  }
  if (isDatabaseError(error)) {
    return {
      code: 'DATABASE_ERROR',
      category: 'failed',
      message: `${error.message} (SQLSTATE ${error.code ?? '?'})`,
      details: { sqlstate: error.code },
    };
  }
  return {
    code: 'INTERNAL',
    category: 'failed',
    message: describeError(error),
  };
}
