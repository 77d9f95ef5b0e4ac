import type pg from 'pg';
import type { BlockingSession } from './migrator-types.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * The sessions blocking backend `pid` right now (`pg_blocking_pids`), with
 * their state, how long their transaction has been open and their query.
 * Empty when `pid` is not waiting for a lock.
 */
export async function findBlockingSessions(db: Queryable, pid: number): Promise<BlockingSession[]> {
  const { rows } = await db.query<{
    pid: number;
    state: string | null;
    application_name: string | null;
    client_addr: string | null;
    usename: string | null;
    xact_age_ms: string | null;
    query: string | null;
  }>(
    `select a.pid, a.state, a.application_name, host(a.client_addr) as client_addr, a.usename,
            (extract(epoch from clock_timestamp() - a.xact_start) * 1000)::bigint as xact_age_ms,
            a.query
       from unnest(pg_blocking_pids($1::int)) as b(pid)
       join pg_stat_activity a on a.pid = b.pid
      order by a.xact_start nulls last`,
    [pid],
  );
  return rows.map((r) => ({
    pid: r.pid,
    state: r.state,
    applicationName: r.application_name ?? '',
    clientAddress: r.client_addr,
    user: r.usename,
    transactionAgeMs: r.xact_age_ms === null ? null : Number(r.xact_age_ms),
    query: r.query,
  }));
}

/** One line per blocker: `pid 4711 (idle in transaction for 12.3 s, app "psql", 10.0.0.5): LOCK TABLE …`. */
export function describeBlockers(blockers: readonly BlockingSession[]): string {
  return blockers
    .map((b) => {
      const parts = [b.state ?? 'unknown state'];
      if (b.transactionAgeMs !== null) {
        parts[0] = `${parts[0]} for ${(b.transactionAgeMs / 1000).toFixed(1)} s`;
      }
      if (b.applicationName !== '') parts.push(`app "${b.applicationName}"`);
      if (b.user !== null) parts.push(`user ${b.user}`);
      if (b.clientAddress !== null) parts.push(b.clientAddress);
      const query = (b.query ?? '').replace(/\s+/g, ' ').trim();
      const shown = query.length > 120 ? `${query.slice(0, 117)}...` : query;
      return `pid ${b.pid} (${parts.join(', ')})${shown === '' ? '' : `: ${shown}`}`;
    })
    .join('; ');
}

/**
 * Watches one backend while it runs a migration: every `intervalMs` it asks
 * a separate monitoring connection which sessions block it, and keeps the
 * last non-empty answer. When the statement then fails with a lock timeout,
 * the blockers are known, although the wait is already over.
 */
export class BlockerWatch {
  private timer: NodeJS.Timeout | undefined;
  private last: BlockingSession[] = [];
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly monitor: () => Promise<Queryable>,
    private readonly pid: number,
    private readonly intervalMs: number,
  ) {}

  /** Starts polling (first poll after one interval). */
  start(): this {
    this.schedule();
    return this;
  }

  /**
   * Stops polling and returns the last blockers seen (possibly empty). Waits
   * at most 1 s for a poll in flight (a busy pool must not hold up the
   * migration).
   */
  async stop(): Promise<BlockingSession[]> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const inFlight = this.inFlight;
    if (inFlight !== undefined) {
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        inFlight,
        new Promise<void>((resolve) => {
          timeout = setTimeout(resolve, 1000);
          timeout.unref();
        }),
      ]);
      clearTimeout(timeout);
    }
    return this.last;
  }

  /** The blockers seen last (without stopping). */
  get blockers(): BlockingSession[] {
    return this.last;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.poll().finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    try {
      const db = await this.monitor();
      const found = await findBlockingSessions(db, this.pid);
      if (found.length > 0) this.last = found;
    } catch {
      // Monitoring is best effort; the migration itself reports real failures.
    }
  }
}
