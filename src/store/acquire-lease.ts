import { CutoverError } from '../errors/index.js';
import { toLease, type LeaseRow } from './control-rows.js';
import type { Queryable } from './queryable.js';
import type { LeaseRecord } from './run-records.js';

/**
 * Fencing for writes made by a lease holder: the write happens only while
 * `owner` still holds the lease on `resource` (another executor that took an
 * expired lease over makes the old holder's writes fail with `LEASE_LOST`).
 */
export interface Fence {
  resource: string;
  ownerId: string;
}

/** Input of {@link acquireLease} (and `ControlStore.acquireLease`). */
export interface LeaseRequest {
  resource: string;
  runId?: string | undefined;
  ownerId: string;
  host: string;
  pid: number;
  /** Time to live, ms (the lease expires this long after each renewal, server time). */
  ttlMs: number;
  /**
   * Take over a lease that has not expired yet when this returns true for the
   * holder (e.g. its host is this host and its pid is not alive).
   */
  takeOver?: (holder: LeaseRecord) => boolean;
}

/** Result of {@link acquireLease} (and `ControlStore.acquireLease`). */
export type LeaseResult =
  | { acquired: true; lease: LeaseRecord; previous: LeaseRecord | undefined }
  | { acquired: false; holder: LeaseRecord };

/**
 * Takes the lease on `resource` when it is free, expired (server time), held
 * by the same owner, or `takeOver(holder)` says so; atomically (one
 * statement under a row lock), so of two callers exactly one gets it.
 */
export async function acquireLease(db: Queryable, request: LeaseRequest): Promise<LeaseResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const previous = await getLease(db, request.resource);
    const force =
      previous !== undefined &&
      (previous.ownerId === request.ownerId || (request.takeOver?.(previous) ?? false));
    const free = previous === undefined || previous.expired || force;
    if (!free) return { acquired: false, holder: previous };
    // Conditional upsert: succeeds only if the row is still what we looked at.
    const { rows } = await db.query<LeaseRow>(
      `insert into cutover.leases as l (resource, run_id, owner_id, host, pid, acquired_at, renewed_at, expires_at)
       values ($1, $2, $3, $4, $5, clock_timestamp(), clock_timestamp(), clock_timestamp() + $6 * interval '1 millisecond')
       on conflict (resource) do update
         set run_id = excluded.run_id, owner_id = excluded.owner_id, host = excluded.host,
             pid = excluded.pid, acquired_at = excluded.acquired_at,
             renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
         where l.owner_id = $7 and (l.expires_at < clock_timestamp() or $8::boolean)
       returning *, false as expired, 0::float8 as expires_in_ms`,
      [
        request.resource,
        request.runId ?? null,
        request.ownerId,
        request.host,
        request.pid,
        request.ttlMs,
        previous?.ownerId ?? null,
        force,
      ],
    );
    if (rows[0] !== undefined) {
      return {
        acquired: true,
        lease: { ...toLease(rows[0]), expiresInMs: request.ttlMs },
        previous: previous?.ownerId === request.ownerId ? undefined : previous,
      };
    }
    // Someone else changed the row between our read and write: look again.
  }
  const holder = await getLease(db, request.resource);
  if (holder === undefined) throw new Error('lease row vanished while acquiring it');
  return { acquired: false, holder };
}

/**
 * Extends the lease by `ttlMs` from now (server time) if `ownerId` still
 * holds it; returns false when it was lost (taken over after expiry).
 */
export async function renewLease(
  db: Queryable,
  resource: string,
  ownerId: string,
  ttlMs: number,
  options: { runId?: string } = {},
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update cutover.leases
        set renewed_at = clock_timestamp(),
            expires_at = clock_timestamp() + $3 * interval '1 millisecond',
            run_id = coalesce($4, run_id)
      where resource = $1 and owner_id = $2`,
    [resource, ownerId, ttlMs, options.runId ?? null],
  );
  return rowCount === 1;
}

/** Releases the lease if `ownerId` holds it. */
export async function releaseLease(
  db: Queryable,
  resource: string,
  ownerId: string,
): Promise<void> {
  await db.query('delete from cutover.leases where resource = $1 and owner_id = $2', [
    resource,
    ownerId,
  ]);
}

/** The lease on `resource`, with its state in server time, or undefined. */
export async function getLease(db: Queryable, resource: string): Promise<LeaseRecord | undefined> {
  const { rows } = await db.query<LeaseRow>(
    `select *, expires_at < clock_timestamp() as expired,
            extract(epoch from (expires_at - clock_timestamp())) * 1000 as expires_in_ms
       from cutover.leases where resource = $1`,
    [resource],
  );
  return rows[0] === undefined ? undefined : toLease(rows[0]);
}

/** CutoverError `LEASE_LOST` (busy): another executor took the lease over. */
export function leaseLost(fence: Fence): CutoverError {
  return new CutoverError(
    'LEASE_LOST',
    'busy',
    `This process lost the lease on ${fence.resource}: another executor took it over after it expired.`,
    {
      location: fence.resource,
      hint: 'Another runner continues the run; check it with `cutover status`.',
    },
  );
}
