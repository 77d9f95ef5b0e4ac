import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeDocument, mulberry32 } from '../../examples/dashboard-v2/src/generate-dashboards.js';
import {
  KNOWN_WIDGET_TYPES,
  normalizeDashboard,
} from '../../examples/dashboard-v2/src/normalize-dashboard.js';

describe('normalizeDashboard', () => {
  it('applies the documented defaults to an empty or unreadable document', () => {
    for (const stored of [{}, null, [], 'not json', '"x"']) {
      const { configuration, widgets } = normalizeDashboard('1', stored);
      expect(configuration).toMatchObject({
        theme: 'system',
        grid_columns: 12,
        widget_spacing: 8,
        compact_mode: false,
        layout: { items: [] },
      });
      expect(widgets).toEqual([]);
    }
    expect(normalizeDashboard('1', null).configuration.migration_notes).toEqual([
      'document_not_object',
    ]);
  });

  it('reads v1 names, double-encoded documents and loose types', () => {
    const doc = {
      theme: ' Dark ',
      grid_columns: '16',
      widget_spacing: '4 px',
      compact_mode: 'Yes',
    };
    const { configuration } = normalizeDashboard('7', JSON.stringify(doc));
    expect(configuration).toMatchObject({
      theme: 'dark',
      grid_columns: 16,
      widget_spacing: 4,
      compact_mode: true,
    });
    expect(
      normalizeDashboard('7', { theme: 'auto', gridColumns: 100, widgetSpacing: -4 }).configuration,
    ).toMatchObject({
      theme: 'system',
      grid_columns: 24,
      widget_spacing: 0,
    });
    expect(
      normalizeDashboard('7', { gridColumns: 12.5, compactMode: 'maybe' }).configuration,
    ).toMatchObject({
      grid_columns: 12,
      compact_mode: false,
    });
  });

  it('keeps the first of duplicated ids, hides unknown types and places widgets without a position below', () => {
    const { configuration, widgets } = normalizeDashboard('3', {
      gridColumns: 12,
      widgets: [
        { id: 'a', type: 'Chart', position: { x: 10, y: 0 }, size: { w: 6, h: 4 } },
        { id: 'a', type: 'table' },
        { type: 'weather_v1', visible: true, config: '{"city":"Oslo"}' },
        null,
        { id: 5, kind: 'metric', hidden: true, size: '2x2', config: 7 },
      ],
    });
    expect(
      widgets.map((w) => [w.widget_id, w.sort_order, w.type, w.known_type, w.visible]),
    ).toEqual([
      ['a', 0, 'chart', true, true],
      ['auto-2', 1, 'weather_v1', false, false],
      ['5', 2, 'metric', true, false],
    ]);
    expect(widgets[1]?.config).toEqual({ city: 'Oslo' });
    expect(widgets[2]?.migration_notes).toContain('config_replaced');
    expect(configuration.layout.items).toEqual([
      { i: 'a', x: 6, y: 0, w: 6, h: 4 },
      { i: 'auto-2', x: 0, y: 4, w: 4, h: 3 },
      { i: '5', x: 0, y: 7, w: 2, h: 2 },
    ]);
    expect(configuration.legacy_extras.droppedWidgets).toEqual([{ id: 'a', type: 'table' }, null]);
    expect(configuration.migration_notes).toEqual(['duplicate_widget_id', 'widget_not_object']);
  });

  it('holds its invariants for every generated document', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const rng = mulberry32(seed);
        const stored = rng() < 0.1 ? JSON.stringify(makeDocument(rng)) : makeDocument(rng);
        const { configuration, widgets } = normalizeDashboard('1', stored);
        const ids = widgets.map((w) => w.widget_id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(widgets.map((w) => w.sort_order)).toEqual(ids.map((_, i) => i));
        expect(configuration.layout.items.map((i) => i.i)).toEqual(ids);
        for (const item of configuration.layout.items) {
          expect(item.x).toBeGreaterThanOrEqual(0);
          expect(item.y).toBeGreaterThanOrEqual(0);
          expect(item.w).toBeGreaterThanOrEqual(1);
          expect(item.h).toBeGreaterThanOrEqual(1);
          expect(item.x + item.w).toBeLessThanOrEqual(configuration.grid_columns);
        }
        for (const w of widgets) {
          if (!(KNOWN_WIDGET_TYPES as readonly string[]).includes(w.type))
            expect(w.visible).toBe(false);
          expect(w.known_type).toBe((KNOWN_WIDGET_TYPES as readonly string[]).includes(w.type));
        }
        // Nothing is lost: kept + dropped = the legacy array's length.
        const doc = (typeof stored === 'string' ? JSON.parse(stored) : stored) as {
          widgets?: unknown;
        } | null;
        const legacy = doc !== null && Array.isArray(doc.widgets) ? doc.widgets.length : 0;
        expect(widgets.length + (configuration.legacy_extras.droppedWidgets?.length ?? 0)).toBe(
          legacy,
        );
      }),
      { numRuns: 500 },
    );
  });

  it('generates the same documents for the same seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const first = Array.from({ length: 50 }, () => JSON.stringify(makeDocument(a)));
    const second = Array.from({ length: 50 }, () => JSON.stringify(makeDocument(b)));
    expect(first).toEqual(second);
  });
});
