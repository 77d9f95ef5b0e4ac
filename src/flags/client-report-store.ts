import type pg from 'pg';

/** What an Unleash SDK sends to `POST /api/client/register` (the fields cutover keeps). */
export interface ClientRegistration {
  appName: string;
  instanceId?: string | undefined;
  sdkVersion?: string | undefined;
  strategies?: string[] | undefined;
  /** ISO date-time or epoch ms at which the SDK started. */
  started?: string | number | undefined;
  /** Metrics interval in ms. */
  interval?: number | undefined;
}

/** Counts of one flag in one metrics bucket. */
export interface ToggleCounts {
  yes: number;
  no: number;
  /** Evaluations per variant name. */
  variants?: Record<string, number> | undefined;
}

/** What an Unleash SDK sends to `POST /api/client/metrics`. */
export interface ClientMetrics {
  appName: string;
  instanceId?: string | undefined;
  bucket: {
    /** ISO date-time. */
    start: string;
    stop: string;
    toggles: Record<string, ToggleCounts>;
  };
}

/** Aggregated evaluation counts of one flag, per hour, environment and application. */
export interface FlagMetricsRow {
  flagKey: string;
  environment: string;
  appName: string;
  /** Start of the hour the counts belong to. */
  periodStart: Date;
  yes: number;
  no: number;
  variants: Record<string, number>;
}

/** A registered SDK instance. */
export interface ClientApplication {
  appName: string;
  instanceId: string;
  environment: string;
  sdkVersion: string | null;
  strategies: string[];
  firstSeen: Date;
  lastSeen: Date;
}

/**
 * What SDKs report (`cutover.client_applications`, `cutover.flag_metrics`).
 * Metrics are aggregated per (flag, environment, app, hour): each report adds
 * its yes/no/variant counts to the hour of its bucket's start.
 */
export interface ClientReportStore {
  /** Records (or refreshes) a registration. */
  register(environment: string, registration: ClientRegistration): Promise<void>;
  /** Adds a metrics bucket's counts. */
  recordMetrics(environment: string, metrics: ClientMetrics): Promise<void>;
  /** Aggregated counts, newest hour first; optionally of one flag / environment. */
  flagMetrics(filter?: {
    key?: string | undefined;
    environment?: string | undefined;
  }): Promise<FlagMetricsRow[]>;
  /** Registered SDK instances, most recently seen first. */
  applications(): Promise<ClientApplication[]>;
}

/** Opens the {@link ClientReportStore} on `pool`. `now` stamps registrations. */
export function createClientReportStore(
  pool: pg.Pool,
  options: { now?: () => Date } = {},
): ClientReportStore {
  const now = options.now ?? (() => new Date());
  return {
    async register(environment, registration) {
      const at = now();
      const started = registration.started === undefined ? null : new Date(registration.started);
      await pool.query(
        `insert into cutover.client_applications
           (app_name, instance_id, environment, sdk_version, strategies, started_at, interval_ms, first_seen, last_seen)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         on conflict (app_name, instance_id, environment) do update set
           sdk_version = excluded.sdk_version, strategies = excluded.strategies,
           started_at = excluded.started_at, interval_ms = excluded.interval_ms,
           last_seen = excluded.last_seen`,
        [
          registration.appName,
          registration.instanceId ?? '',
          environment,
          registration.sdkVersion ?? null,
          JSON.stringify(registration.strategies ?? []),
          started !== null && !Number.isNaN(started.getTime()) ? started : null,
          registration.interval ?? null,
          at,
        ],
      );
    },

    async recordMetrics(environment, metrics) {
      const toggles = Object.entries(metrics.bucket.toggles).map(([key, counts]) => ({
        key,
        yes: counts.yes,
        no: counts.no,
        variants: counts.variants ?? {},
      }));
      if (toggles.length === 0) return;
      await pool.query(
        `insert into cutover.flag_metrics as m (flag_key, environment, app_name, period_start, yes, no, variants)
         select x.key, $1, $2, date_trunc('hour', $3::timestamptz), x.yes, x.no, x.variants
           from jsonb_to_recordset($4::jsonb) as x(key text, yes bigint, no bigint, variants jsonb)
         on conflict (flag_key, environment, app_name, period_start) do update set
           yes = m.yes + excluded.yes,
           no = m.no + excluded.no,
           variants = (
             select coalesce(jsonb_object_agg(k,
                      coalesce((m.variants->>k)::bigint, 0) + coalesce((excluded.variants->>k)::bigint, 0)), '{}')
               from jsonb_object_keys(m.variants || excluded.variants) as k
           )`,
        [environment, metrics.appName, metrics.bucket.start, JSON.stringify(toggles)],
      );
    },

    async flagMetrics(filter = {}) {
      const { rows } = await pool.query<{
        flag_key: string;
        environment: string;
        app_name: string;
        period_start: Date;
        yes: string;
        no: string;
        variants: Record<string, number | string>;
      }>(
        `select * from cutover.flag_metrics
          where ($1::text is null or flag_key = $1) and ($2::text is null or environment = $2)
          order by period_start desc, flag_key, environment, app_name`,
        [filter.key ?? null, filter.environment ?? null],
      );
      return rows.map((r) => ({
        flagKey: r.flag_key,
        environment: r.environment,
        appName: r.app_name,
        periodStart: r.period_start,
        yes: Number(r.yes),
        no: Number(r.no),
        variants: Object.fromEntries(Object.entries(r.variants).map(([k, v]) => [k, Number(v)])),
      }));
    },

    async applications() {
      const { rows } = await pool.query<{
        app_name: string;
        instance_id: string;
        environment: string;
        sdk_version: string | null;
        strategies: string[];
        first_seen: Date;
        last_seen: Date;
      }>('select * from cutover.client_applications order by last_seen desc');
      return rows.map((r) => ({
        appName: r.app_name,
        instanceId: r.instance_id,
        environment: r.environment,
        sdkVersion: r.sdk_version,
        strategies: r.strategies,
        firstSeen: r.first_seen,
        lastSeen: r.last_seen,
      }));
    },
  };
}
