/**
 * The rules that turn one legacy dashboard document (`legacy_dashboard_configs.config`)
 * into a `dashboard_configurations` row and its `dashboard_widgets` rows.
 * Pure functions: no database, no clock, no randomness — the backfill module
 * calls them, the tests check them, and the verification checks in
 * `cutover.yaml` re-derive the main fields in SQL independently.
 *
 * ## Document
 * - A JSON string holding a JSON object (a double-encoded document) is parsed.
 *   Anything else that is not an object (null, an array, a number, an
 *   unparsable string) counts as `{}` and is noted (`document_not_object`).
 * - A field is read from its v2 name, else its v1 (snake_case) name: the
 *   first of them that is present and not null.
 *
 * ## Dashboard settings
 * - `theme`: a string, trimmed of spaces and lower-cased: `light`, `dark`,
 *   `system` are kept; `auto` (the v1 name) becomes `system`; anything else —
 *   missing, null, `solarized` — becomes `system` (follow the OS: never
 *   surprises a user with the wrong contrast).
 * - `gridColumns` / `grid_columns`: an integer (a JSON integer, or a string of
 *   digits with optional spaces); below 1 or not an integer → 12 (the default
 *   grid); above 24 → 24 (the widest grid the new renderer supports).
 * - `widgetSpacing` / `widget_spacing` (px): an integer, or digits with an
 *   optional `px` suffix; clamped to [0, 64]; missing or invalid → 8.
 * - `compactMode` / `compact_mode`: a boolean; the strings `true yes 1 on` /
 *   `false no 0 off` (any case, spaces trimmed); the numbers 1 / 0; anything
 *   else → false.
 *
 * ## Widgets
 * - `widgets` must be an array; otherwise there are no widgets (noted
 *   `widgets_not_array` when the field is present but not an array).
 *   Elements that are not objects are dropped (noted `widget_not_object`,
 *   kept verbatim in `legacy_extras.droppedWidgets`).
 * - Id (`id` / `widget_id`): a string trimmed of spaces, or a safe integer
 *   written in decimal; empty, missing or anything else → `auto-<index>`
 *   (index: 0-based position in the legacy array).
 * - Duplicated ids: the first occurrence (lowest array index) wins; later
 *   ones are not migrated as widgets but kept verbatim in the
 *   configuration's `legacy_extras.droppedWidgets` (no data is lost) and
 *   noted (`duplicate_widget_id`).
 * - `sort_order`: 0-based rank of the kept widgets in array order.
 * - Type (`type` / `kind`): a string trimmed of spaces and lower-cased; empty
 *   or not a string → `unknown`. Known types: chart, table, metric, text,
 *   map, calendar, todo. Unknown types are KEPT (their config too) with
 *   `known_type = false` and hidden (`visible = false`), so the new renderer
 *   never meets a widget it cannot draw and nobody loses data.
 * - Visibility: `visible` parsed as a boolean (as `compactMode`), else the
 *   inverse of `hidden` parsed the same way, else true (a widget on the
 *   dashboard was shown); always false for an unknown type.
 * - `config`: an object is kept; a JSON string holding an object is parsed;
 *   anything else becomes `{}` (noted on the widget, `config_replaced`, and
 *   the original kept under `legacy_extras.replacedConfigs`).
 *
 * ## Layout (positions and sizes, in `dashboard_configurations.layout.items`,
 * react-grid-layout's `{ i, x, y, w, h }` shape)
 * - Size: `{ w, h }`, `[w, h]` or `"4x3"`; each part an integer ≥ 1 (JSON
 *   integer or digits), else the type's default size (chart 6×4, table 6×5,
 *   metric 3×2, text 4×2, map 6×4, calendar 4×4, todo 3×4, unknown 4×3);
 *   `w` at most the grid's columns, `h` at most 48.
 * - Position: `{ x, y }` or `[x, y]`, both integers (JSON integers or
 *   digits; negatives become 0); `x` is moved left so the widget fits
 *   (`x + w ≤ columns`). A widget without a valid position is placed at
 *   `x = 0` below everything placed so far, in array order. Overlaps are left
 *   to the renderer's vertical compaction, as the legacy renderer did.
 */

/** Widget types the new renderer can draw. */
export const KNOWN_WIDGET_TYPES = [
  'chart',
  'table',
  'metric',
  'text',
  'map',
  'calendar',
  'todo',
] as const;

const DEFAULT_SIZE: Record<string, { w: number; h: number }> = {
  chart: { w: 6, h: 4 },
  table: { w: 6, h: 5 },
  metric: { w: 3, h: 2 },
  text: { w: 4, h: 2 },
  map: { w: 6, h: 4 },
  calendar: { w: 4, h: 4 },
  todo: { w: 3, h: 4 },
};
const UNKNOWN_SIZE = { w: 4, h: 3 };

/** Defaults of the dashboard settings. */
export const DEFAULTS = { theme: 'system', gridColumns: 12, widgetSpacing: 8, compactMode: false };

/** One `dashboard_configurations` row. */
export interface DashboardConfiguration {
  user_id: string;
  theme: 'light' | 'dark' | 'system';
  grid_columns: number;
  widget_spacing: number;
  compact_mode: boolean;
  layout: { items: LayoutItem[] };
  /** Sorted, unique notes on what the migration changed. */
  migration_notes: string[];
  legacy_extras: { droppedWidgets?: unknown[]; replacedConfigs?: Record<string, unknown> };
}

/** react-grid-layout's layout item. */
export interface LayoutItem {
  i: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One `dashboard_widgets` row. */
export interface DashboardWidget {
  user_id: string;
  widget_id: string;
  sort_order: number;
  type: string;
  known_type: boolean;
  visible: boolean;
  config: Record<string, unknown>;
  migration_notes: string[];
}

/** The normalized dashboard of one user. */
export interface NormalizedDashboard {
  configuration: DashboardConfiguration;
  widgets: DashboardWidget[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Trims spaces only (as SQL `btrim(text)` does), not tabs or newlines. */
function trimSpaces(value: string): string {
  return value.replace(/^ +| +$/g, '');
}

/** The first of `names` present in `doc` and not null. */
function field(doc: Record<string, unknown>, ...names: string[]): unknown {
  for (const name of names) {
    const value = doc[name];
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

/** An integer: a JSON integer, or digits (optionally followed by `suffix`) with optional spaces. */
function parseInteger(value: unknown, suffix = ''): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'string') {
    const match = new RegExp(`^ *(\\d{1,6}) *${suffix === '' ? '' : `(?:${suffix})?`} *$`).exec(
      value,
    );
    return match === null ? undefined : Number(match[1]);
  }
  return undefined;
}

/** A boolean: true/false, `true yes 1 on` / `false no 0 off` (any case), 1 / 0; else undefined. */
export function parseFlag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value === 'string') {
    const text = trimSpaces(value).toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(text)) return true;
    if (['false', 'no', '0', 'off'].includes(text)) return false;
  }
  return undefined;
}

function parseTheme(value: unknown): DashboardConfiguration['theme'] {
  if (typeof value !== 'string') return 'system';
  const text = trimSpaces(value).toLowerCase();
  if (text === 'light' || text === 'dark' || text === 'system') return text;
  return 'system';
}

function parseGridColumns(value: unknown): number {
  const n = parseInteger(value);
  if (n === undefined || n < 1) return DEFAULTS.gridColumns;
  return Math.min(n, 24);
}

function parseSpacing(value: unknown): number {
  const n = parseInteger(value, 'px');
  if (n === undefined) return DEFAULTS.widgetSpacing;
  return Math.min(64, Math.max(0, n));
}

/** The widget id rule (see the module docs). */
export function widgetId(element: Record<string, unknown>, index: number): string {
  const raw = field(element, 'id', 'widget_id');
  if (typeof raw === 'string') {
    const text = trimSpaces(raw);
    if (text !== '') return text;
  } else if (typeof raw === 'number' && Number.isSafeInteger(raw)) {
    return String(raw);
  }
  return `auto-${index}`;
}

function parseType(value: unknown): string {
  if (typeof value !== 'string') return 'unknown';
  const text = trimSpaces(value).toLowerCase();
  return text === '' ? 'unknown' : text;
}

function parsePair(value: unknown, a: string, b: string): [unknown, unknown] | undefined {
  if (Array.isArray(value)) return [value[0], value[1]];
  if (isObject(value)) return [value[a], value[b]];
  return undefined;
}

function parseSize(value: unknown, type: string, columns: number): { w: number; h: number } {
  const fallback = DEFAULT_SIZE[type] ?? UNKNOWN_SIZE;
  let pair = parsePair(value, 'w', 'h');
  if (pair === undefined && typeof value === 'string') {
    const match = /^ *(\d{1,3}) *[x×] *(\d{1,3}) *$/i.exec(value);
    if (match !== null) pair = [match[1], match[2]];
  }
  const part = (v: unknown) => {
    const n = parseInteger(v);
    return n === undefined || n < 1 ? undefined : n;
  };
  const w = part(pair?.[0]) ?? fallback.w;
  const h = part(pair?.[1]) ?? fallback.h;
  return { w: Math.min(w, columns), h: Math.min(h, 48) };
}

function parsePosition(value: unknown): { x: number; y: number } | undefined {
  const pair = parsePair(value, 'x', 'y');
  if (pair === undefined) return undefined;
  const coordinate = (v: unknown) => {
    if (typeof v === 'number') return Number.isInteger(v) ? Math.max(0, v) : undefined;
    return parseInteger(v);
  };
  const x = coordinate(pair[0]);
  const y = coordinate(pair[1]);
  return x === undefined || y === undefined ? undefined : { x, y };
}

function parseConfig(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return {};
  if (isObject(value)) return value;
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      if (isObject(parsed)) return parsed;
    } catch {
      // not JSON
    }
  }
  return undefined;
}

/** Reads the stored document: an object, or a JSON string holding one; else undefined. */
export function readDocument(stored: unknown): Record<string, unknown> | undefined {
  if (isObject(stored)) return stored;
  if (typeof stored === 'string') {
    try {
      const parsed: unknown = JSON.parse(stored);
      if (isObject(parsed)) return parsed;
    } catch {
      // unreadable
    }
  }
  return undefined;
}

/**
 * Normalizes one user's legacy document (the parsed `config` jsonb) by the
 * rules above.
 */
export function normalizeDashboard(userId: string, stored: unknown): NormalizedDashboard {
  const notes = new Set<string>();
  const read = readDocument(stored);
  if (read === undefined) notes.add('document_not_object');
  const doc = read ?? {};
  const columns = parseGridColumns(field(doc, 'gridColumns', 'grid_columns'));
  const configuration: DashboardConfiguration = {
    user_id: userId,
    theme: parseTheme(field(doc, 'theme')),
    grid_columns: columns,
    widget_spacing: parseSpacing(field(doc, 'widgetSpacing', 'widget_spacing')),
    compact_mode: parseFlag(field(doc, 'compactMode', 'compact_mode')) ?? DEFAULTS.compactMode,
    layout: { items: [] },
    migration_notes: [],
    legacy_extras: {},
  };
  const rawWidgets = doc.widgets;
  let elements: unknown[] = [];
  if (Array.isArray(rawWidgets)) elements = rawWidgets;
  else if (rawWidgets !== undefined && rawWidgets !== null) notes.add('widgets_not_array');

  const widgets: DashboardWidget[] = [];
  const seen = new Set<string>();
  const placed: { item: LayoutItem; explicit: boolean }[] = [];
  const dropped: unknown[] = [];
  const replaced: Record<string, unknown> = {};
  elements.forEach((element, index) => {
    if (!isObject(element)) {
      notes.add('widget_not_object');
      dropped.push(element);
      return;
    }
    const id = widgetId(element, index);
    if (seen.has(id)) {
      notes.add('duplicate_widget_id');
      dropped.push(element);
      return;
    }
    seen.add(id);
    const widgetNotes: string[] = [];
    const type = parseType(field(element, 'type', 'kind'));
    const known = (KNOWN_WIDGET_TYPES as readonly string[]).includes(type);
    if (!known) widgetNotes.push('unknown_type_hidden');
    const hidden = parseFlag(field(element, 'hidden'));
    const visible =
      known && (parseFlag(field(element, 'visible')) ?? (hidden === undefined ? true : !hidden));
    const rawConfig = field(element, 'config', 'settings');
    let config = parseConfig(rawConfig);
    if (config === undefined) {
      widgetNotes.push('config_replaced');
      replaced[id] = rawConfig;
      config = {};
    }
    const size = parseSize(field(element, 'size'), type, columns);
    const position = parsePosition(field(element, 'position'));
    const item: LayoutItem = {
      i: id,
      x: position === undefined ? 0 : Math.min(position.x, columns - size.w),
      y: position?.y ?? 0,
      w: size.w,
      h: size.h,
    };
    if (position === undefined) widgetNotes.push('auto_placed');
    placed.push({ item, explicit: position !== undefined });
    widgets.push({
      user_id: userId,
      widget_id: id,
      sort_order: widgets.length,
      type,
      known_type: known,
      visible,
      config,
      migration_notes: widgetNotes,
    });
  });
  // Widgets without a position go below everything placed, in array order.
  let bottom = placed
    .filter((p) => p.explicit)
    .reduce((max, p) => Math.max(max, p.item.y + p.item.h), 0);
  for (const p of placed) {
    if (p.explicit) continue;
    p.item.y = bottom;
    bottom += p.item.h;
  }
  configuration.layout = { items: placed.map((p) => p.item) };
  if (dropped.length > 0) configuration.legacy_extras.droppedWidgets = dropped;
  if (Object.keys(replaced).length > 0) configuration.legacy_extras.replacedConfigs = replaced;
  configuration.migration_notes = [...notes].sort();
  return { configuration, widgets };
}
