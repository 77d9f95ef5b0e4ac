import { createHash } from 'node:crypto';

/**
 * A stable 64-bit PostgreSQL advisory lock key for `name`: the first 8 bytes
 * of sha256(`name`) read as a signed big-endian integer, returned as a decimal
 * string (pass it as a `bigint` parameter: `pg_advisory_lock($1::bigint)`).
 *
 * Advisory locks are scoped to one database, so the same key in two
 * databases never conflicts.
 */
export function advisoryLockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}
