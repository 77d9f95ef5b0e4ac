import type { DatabaseError } from 'pg';
import { CutoverError } from '../errors/index.js';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
]);

/** SQLSTATE classes that mean the connection or server is gone, not that the SQL is wrong. */
const CONNECTION_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
  '3D000', // invalid_catalog_name (database does not exist)
  '28P01', // invalid_password
  '28000', // invalid_authorization_specification
]);

/** True when `error` is a server error carrying a SQLSTATE (`pg`'s DatabaseError). */
export function isDatabaseError(error: unknown): error is DatabaseError {
  return (
    error instanceof Error &&
    typeof (error as Partial<DatabaseError>).code === 'string' &&
    'severity' in error
  );
}

/**
 * True when `error` means the database cannot be reached or the connection
 * was lost (refused, DNS failure, reset, terminated, server shutting down,
 * authentication failure, missing database).
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || CONNECTION_SQLSTATES.has(code))) {
    return true;
  }
  return /Connection terminated|connection is closed|Client has encountered a connection error/i.test(
    error.message,
  );
}

/**
 * Wraps a connection-level failure as CutoverError `DATABASE_UNREACHABLE`
 * (category `unavailable`), naming the redacted URL; returns other errors unchanged.
 */
export function toConnectionError(error: unknown, redactedUrl: string): unknown {
  if (!isConnectionError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new CutoverError(
    'DATABASE_UNREACHABLE',
    'unavailable',
    `Cannot reach the database at ${redactedUrl}: ${reason}.`,
    {
      location: redactedUrl,
      hint: 'Check that the server is running and the URL (host, port, user, password, database) is right.',
      cause: error,
    },
  );
}
