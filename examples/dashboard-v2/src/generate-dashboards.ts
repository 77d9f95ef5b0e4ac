import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * A deterministic generator of the legacy data of the dashboard-v2 example:
 * `users` and `legacy_dashboard_configs` (one JSON document per user, with
 * 0–12 widgets), messy the way years-old production data is: v1 documents
 * with snake_case keys, double-encoded JSON strings, missing fields, nulls,
 * wrong types (`"12"`, `"8px"`, `"yes"`), out-of-range values, unknown widget
 * types, duplicated and missing widget ids, malformed sizes (`"wide"`,
 * `{ w: 0 }`), positions as arrays or strings, configs as JSON strings.
 *
 * The same seed gives the same rows (mulberry32 PRNG). Rows are loaded with
 * `COPY … FROM STDIN` (CSV) through pg-copy-streams.
 */

/** mulberry32: a small, fast, seedable 32-bit PRNG (Tommy Ettinger, public domain). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

/** Picks by weight: `[[weight, value], …]`. */
function weighted<T>(rng: Rng, options: readonly (readonly [number, () => T])[]): T {
  const total = options.reduce((sum, [w]) => sum + w, 0);
  let r = rng() * total;
  for (const [w, make] of options) {
    r -= w;
    if (r < 0) return make();
  }
  return (options[options.length - 1] as readonly [number, () => T])[1]();
}

const MISSING = Symbol('missing');
type Maybe<T> = T | typeof MISSING;

function set(target: Record<string, unknown>, key: string, value: Maybe<unknown>): void {
  if (value !== MISSING) target[key] = value;
}

const KNOWN = ['chart', 'table', 'metric', 'text', 'map', 'calendar', 'todo'];
const UNKNOWN = ['legacy_iframe', 'weather_v1', 'stock-ticker', 'rss'];
const METRICS = ['mrr', 'signups', 'churn', 'latency_p95', 'errors', 'revenue'];

function widgetConfig(rng: Rng, type: string): Record<string, unknown> {
  switch (type) {
    case 'chart':
      return {
        title: pick(rng, ['Revenue', 'Signups', 'Errors']),
        metric: pick(rng, METRICS),
        range: pick(rng, ['7d', '30d', '90d']),
        style: pick(rng, ['line', 'bar']),
      };
    case 'table':
      return {
        source: pick(rng, ['orders', 'tickets', 'deploys']),
        pageSize: pick(rng, [10, 25, 50]),
      };
    case 'metric':
      return { metric: pick(rng, METRICS), comparison: pick(rng, ['previous_period', 'none']) };
    case 'text':
      return { markdown: pick(rng, ['# Team notes', 'On call: see runbook', '*Quarter goals*']) };
    case 'map':
      return { region: pick(rng, ['eu', 'us', 'world']), layer: 'customers' };
    case 'calendar':
      return { calendarId: `cal_${Math.floor(rng() * 1000)}` };
    default:
      return { items: Math.floor(rng() * 8) };
  }
}

function makeWidget(rng: Rng, index: number, ids: string[], v1: boolean): unknown {
  if (rng() < 0.02) return pick(rng, [null, 'chart', 42, ['w', 1]]);
  const widget: Record<string, unknown> = {};
  const id: Maybe<unknown> = weighted<Maybe<unknown>>(rng, [
    [78, () => `w_${index + 1}_${Math.floor(rng() * 1e6).toString(36)}`],
    [5, () => 1000 + index],
    [5, () => MISSING],
    [2, () => pick(rng, ['', '  ', null])],
    [10, () => (ids.length > 0 ? pick(rng, ids) : `w_${index + 1}`)],
  ]);
  set(widget, v1 ? 'widget_id' : 'id', id);
  if (typeof id === 'string' && id.trim() !== '') ids.push(id);
  const type = weighted<Maybe<unknown>>(rng, [
    [75, () => pick(rng, KNOWN)],
    [
      8,
      () => {
        const t = pick(rng, KNOWN);
        return pick(rng, [t.toUpperCase(), ` ${t} `, t[0]?.toUpperCase() + t.slice(1)]);
      },
    ],
    [6, () => pick(rng, UNKNOWN)],
    [3, () => ''],
    [3, () => null],
    [5, () => MISSING],
  ]);
  set(widget, v1 ? 'kind' : 'type', type);
  const x = Math.floor(rng() * 12);
  const y = Math.floor(rng() * 20);
  set(
    widget,
    'position',
    weighted<Maybe<unknown>>(rng, [
      [70, () => ({ x, y })],
      [10, () => [x, y]],
      [5, () => ({ x: String(x), y: String(y) })],
      [4, () => ({ x: -x - 1, y })],
      [1, () => ({ x: x + 0.5, y })],
      [5, () => MISSING],
      [5, () => null],
    ]),
  );
  const w = 1 + Math.floor(rng() * 6);
  const h = 1 + Math.floor(rng() * 5);
  set(
    widget,
    'size',
    weighted<Maybe<unknown>>(rng, [
      [65, () => ({ w, h })],
      [10, () => `${w}x${h}`],
      [5, () => pick(rng, ['wide', 'tall', 'large'])],
      [5, () => ({ w: 0, h })],
      [5, () => ({ w: -1, h: String(h) })],
      [5, () => MISSING],
      [5, () => ({ w: 30 + w, h })],
    ]),
  );
  const visible = rng() < 0.8;
  weighted<void>(rng, [
    [60, () => set(widget, 'visible', visible)],
    [10, () => set(widget, 'visible', visible ? 'yes' : 'no')],
    [10, () => set(widget, 'hidden', !visible)],
    [20, () => undefined],
  ]);
  const config = widgetConfig(rng, typeof type === 'string' ? type.trim().toLowerCase() : 'todo');
  set(
    widget,
    v1 ? 'settings' : 'config',
    weighted<Maybe<unknown>>(rng, [
      [70, () => config],
      [10, () => JSON.stringify(config)],
      [10, () => null],
      [5, () => MISSING],
      [5, () => pick(rng, [7, [1, 2], 'not json {'])],
    ]),
  );
  return widget;
}

/** One legacy document (before the double-encoding some rows get). */
export function makeDocument(rng: Rng): unknown {
  const shape = rng();
  if (shape < 0.003) return {};
  if (shape < 0.005) return null;
  if (shape < 0.006) return [];
  const v1 = rng() < 0.15;
  const doc: Record<string, unknown> = v1 ? {} : { version: 2 };
  set(
    doc,
    'theme',
    weighted<Maybe<unknown>>(rng, [
      [55, () => pick(rng, ['light', 'dark', 'system'])],
      [10, () => pick(rng, [' Dark ', 'LIGHT', 'System', 'dark '])],
      [3, () => 'auto'],
      [5, () => pick(rng, ['solarized', 'high-contrast', 'blue'])],
      [7, () => null],
      [20, () => MISSING],
    ]),
  );
  set(
    doc,
    v1 ? 'grid_columns' : 'gridColumns',
    weighted<Maybe<unknown>>(rng, [
      [60, () => 12],
      [10, () => 16],
      [5, () => 24],
      [5, () => pick(rng, ['12', ' 16 ', '6'])],
      [3, () => 0],
      [2, () => -3],
      [2, () => 100],
      [1, () => 12.5],
      [5, () => null],
      [7, () => MISSING],
    ]),
  );
  set(
    doc,
    v1 ? 'widget_spacing' : 'widgetSpacing',
    weighted<Maybe<unknown>>(rng, [
      [50, () => 4 * Math.floor(rng() * 9)],
      [10, () => pick(rng, ['8px', '16px', '4 px'])],
      [5, () => pick(rng, ['16', '0'])],
      [5, () => -4],
      [3, () => 128],
      [10, () => null],
      [17, () => MISSING],
    ]),
  );
  set(
    doc,
    v1 ? 'compact_mode' : 'compactMode',
    weighted<Maybe<unknown>>(rng, [
      [50, () => rng() < 0.3],
      [10, () => pick(rng, ['true', 'false', 'Yes', 'no', 'ON'])],
      [5, () => pick(rng, [1, 0])],
      [5, () => 'maybe'],
      [10, () => null],
      [20, () => MISSING],
    ]),
  );
  const count = Math.floor(rng() * 13);
  const ids: string[] = [];
  set(
    doc,
    'widgets',
    weighted<Maybe<unknown>>(rng, [
      [94, () => Array.from({ length: count }, (_, i) => makeWidget(rng, i, ids, v1))],
      [3, () => MISSING],
      [2, () => null],
      [1, () => ({ main: makeWidget(rng, 0, ids, v1) })],
    ]),
  );
  return doc;
}

/** Options of {@link generateDashboards}. */
export interface GenerateOptions {
  /** Users (one document each). Default 200 000. */
  users?: number;
  /** PRNG seed. Default 20240601. */
  seed?: number;
  /** Called after each chunk with rows loaded so far. */
  onProgress?(users: number): void;
}

/** The legacy schema the application had before the migration. */
export const LEGACY_SCHEMA = `
  create table if not exists users (
    id bigint primary key,
    email text not null unique,
    created_at timestamptz not null
  );
  create table if not exists legacy_dashboard_configs (
    user_id bigint primary key references users (id) on delete cascade,
    config jsonb not null,
    updated_at timestamptz not null
  );
`;

function csv(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/**
 * Creates the legacy tables (if missing) and loads `users` users with their
 * documents with COPY. Deterministic for a given seed. Returns the number of
 * users loaded. Call on empty tables (see {@link ensureDashboardData}).
 */
export async function generateDashboards(
  pool: pg.Pool,
  options: GenerateOptions = {},
): Promise<number> {
  const users = options.users ?? 200_000;
  const rng = mulberry32(options.seed ?? 20240601);
  await pool.query(LEGACY_SCHEMA);
  const epoch = Date.UTC(2019, 0, 1);
  const client = await pool.connect();
  try {
    await client.query('begin');
    const userRows: string[] = [];
    const docRows: string[] = [];
    const flush = async () => {
      await pipeline(
        Readable.from(userRows.splice(0)),
        client.query(copyFrom('copy users (id, email, created_at) from stdin with (format csv)')),
      );
      await pipeline(
        Readable.from(docRows.splice(0)),
        client.query(
          copyFrom(
            'copy legacy_dashboard_configs (user_id, config, updated_at) from stdin with (format csv)',
          ),
        ),
      );
    };
    for (let id = 1; id <= users; id++) {
      const created = new Date(epoch + Math.floor(rng() * 4 * 365 * 86_400_000)).toISOString();
      const updated = new Date(
        Date.parse(created) + Math.floor(rng() * 365 * 86_400_000),
      ).toISOString();
      let doc = makeDocument(rng);
      if (rng() < 0.02) doc = JSON.stringify(doc); // double-encoded: a JSON string holding the document
      userRows.push(`${id},${csv(`user${id}@example.com`)},${created}\n`);
      docRows.push(`${id},${csv(JSON.stringify(doc))},${updated}\n`);
      if (userRows.length >= 5000) {
        await flush();
        options.onProgress?.(id);
      }
    }
    if (userRows.length > 0) await flush();
    await client.query('commit');
    await client.query('analyze users; analyze legacy_dashboard_configs');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  options.onProgress?.(users);
  return users;
}

/**
 * Generates the data unless `legacy_dashboard_configs` already holds rows.
 * Returns the users generated (0 when the data was there).
 */
export async function ensureDashboardData(
  pool: pg.Pool,
  options: GenerateOptions = {},
): Promise<number> {
  const { rows } = await pool.query<{ present: boolean }>(
    `select to_regclass('legacy_dashboard_configs') is not null as present`,
  );
  if (rows[0]?.present === true) {
    const { rows: count } = await pool.query<{ n: number }>(
      'select count(*)::int as n from legacy_dashboard_configs',
    );
    if ((count[0]?.n ?? 0) > 0) return 0;
  }
  return generateDashboards(pool, options);
}
