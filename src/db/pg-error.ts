import type { DatabaseError } from 'pg';
import { CutoverError } from '../errors/index.js';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  // TLS: the server's certificate is not trusted
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
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
  return /Connection terminated|connection is closed|Client has encountered a connection error|does not support SSL/i.test(
    error.message,
  );
}

/**
 * Wraps a connection-level failure as CutoverError `DATABASE_UNREACHABLE`
 * (category `unavailable`), naming the redacted URL, with a hint for the cause
 * (nothing listening, unknown host, wrong password, missing database, SSL
 * mismatch, untrusted certificate, timeout); returns other errors unchanged.
 */
export function toConnectionError(error: unknown, redactedUrl: string): unknown {
  if (!isConnectionError(error) || !(error instanceof Error)) return error;
  const reason = error.message.replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
  return new CutoverError(
    'DATABASE_UNREACHABLE',
    'unavailable',
    `Cannot reach the database at ${redactedUrl}: ${reason}.`,
    { location: redactedUrl, hint: connectionHint(error, redactedUrl), cause: error },
  );
}

function connectionHint(error: Error, redactedUrl: string): string {
  const code = (error as { code?: unknown }).code;
  let host = 'the host';
  let port = '5432';
  let database = 'the database';
  try {
    const url = new URL(redactedUrl);
    host = url.hostname || host;
    port = url.port || port;
    database = decodeURIComponent(url.pathname.replace(/^\//, '')) || database;
  } catch {
    // keep the generic words
  }
  switch (code) {
    case 'ECONNREFUSED':
      return `Nothing accepts connections on ${host}:${port}: start PostgreSQL there, or fix the host and port in the URL.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The host name ${host} does not resolve: check it in the URL (and your network or VPN).`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${host}:${port} does not answer: check the host, the port and any firewall or security group in between.`;
    case '28P01':
    case '28000':
      return 'Check the user name and password in the URL (special characters in the password must be percent-encoded, e.g. @ as %40).';
    case '3D000':
      return `Create the database first (e.g. \`createdb ${database}\`), or fix the database name at the end of the URL.`;
    case '57P03':
      return 'The server is starting up or shutting down: wait a moment and run the command again.';
  }
  if (typeof code === 'string' && /CERT|SIGNATURE/.test(code)) {
    return "The server's TLS certificate is not trusted: add sslrootcert=<CA file> to the URL, or sslmode=no-verify to skip the check (not recommended).";
  }
  if (/does not support SSL/i.test(error.message)) {
    return 'The server does not accept SSL connections: remove sslmode from the URL, or use sslmode=disable.';
  }
  if (/timeout/i.test(error.message)) {
    return `${host}:${port} did not answer in time: check the host, the port and any firewall in between.`;
  }
  return 'Check that the server is running and the URL (host, port, user, password, database) is right.';
}
