/**
 * Backfill of the dashboard-v2 migration: every legacy dashboard document
 * (`legacy_dashboard_configs.config`, one per user) becomes one
 * `dashboard_configurations` row and one `dashboard_widgets` row per widget.
 *
 * The transformation rules (defaults for missing fields, unknown widget types
 * kept but hidden, duplicated widget ids de-duplicated first-wins with the
 * dropped ones kept in `legacy_extras`, positions and sizes) are documented in
 * `../src/normalize-dashboard.ts`; `cutover.yaml` re-derives the main fields
 * in SQL to verify them.
 *
 * Each batch (keyset on `user_id`, one transaction with cutover's checkpoint)
 * upserts the configurations and replaces the users' widgets, so a batch is
 * idempotent. `revert` deletes what the backfill wrote for the batch's users.
 *
 * In your project: `import type { BackfillModule } from 'cutover'`.
 */
import type { BackfillModule } from '../../../src/index.js';
import { normalizeDashboard } from '../src/normalize-dashboard.js';

interface LegacyRow {
  user_id: string;
  config: unknown;
}

const backfill: BackfillModule<LegacyRow> = {
  table: 'legacy_dashboard_configs',
  key: 'user_id',
  columns: ['user_id', 'config'],
  batchSize: 500,
  writes: ['dashboard_configurations', 'dashboard_widgets'],

  async transform(rows, { client }) {
    const configurations = [];
    const widgets = [];
    for (const row of rows) {
      const normalized = normalizeDashboard(row.user_id, row.config);
      configurations.push(normalized.configuration);
      widgets.push(...normalized.widgets);
    }
    await client.query(
      `insert into dashboard_configurations
         (user_id, theme, grid_columns, widget_spacing, compact_mode, layout, migration_notes, legacy_extras)
       select user_id, theme, grid_columns, widget_spacing, compact_mode, layout, migration_notes, legacy_extras
         from jsonb_to_recordset($1::jsonb) as r(user_id bigint, theme text, grid_columns int,
              widget_spacing int, compact_mode boolean, layout jsonb, migration_notes text[], legacy_extras jsonb)
       on conflict (user_id) do update set
         theme = excluded.theme, grid_columns = excluded.grid_columns,
         widget_spacing = excluded.widget_spacing, compact_mode = excluded.compact_mode,
         layout = excluded.layout, migration_notes = excluded.migration_notes,
         legacy_extras = excluded.legacy_extras, migrated_at = now()`,
      [JSON.stringify(configurations)],
    );
    await client.query('delete from dashboard_widgets where user_id = any($1::bigint[])', [
      rows.map((r) => r.user_id),
    ]);
    if (widgets.length > 0) {
      await client.query(
        `insert into dashboard_widgets
           (user_id, widget_id, sort_order, type, known_type, visible, config, migration_notes)
         select user_id, widget_id, sort_order, type, known_type, visible, config, migration_notes
           from jsonb_to_recordset($1::jsonb) as r(user_id bigint, widget_id text, sort_order int,
                type text, known_type boolean, visible boolean, config jsonb, migration_notes text[])`,
        [JSON.stringify(widgets)],
      );
    }
  },

  async revert(rows, { client }) {
    const ids = rows.map((r) => r.user_id);
    await client.query('delete from dashboard_widgets where user_id = any($1::bigint[])', [ids]);
    await client.query('delete from dashboard_configurations where user_id = any($1::bigint[])', [
      ids,
    ]);
  },
};

export default backfill;
