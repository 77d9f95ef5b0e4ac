-- Expand: the new tables, next to the legacy one (nothing reads them yet).
-- migrate:up
create table dashboard_configurations (
  user_id bigint primary key references users (id) on delete cascade,
  theme text not null check (theme in ('light', 'dark', 'system')),
  grid_columns int not null check (grid_columns between 1 and 24),
  widget_spacing int not null check (widget_spacing between 0 and 64),
  compact_mode boolean not null default false,
  -- react-grid-layout items: { "items": [{ "i": widget_id, "x", "y", "w", "h" }] }
  layout jsonb not null default '{"items": []}',
  -- what the migration changed or defaulted (e.g. duplicate_widget_id)
  migration_notes text[] not null default '{}',
  -- legacy data that has no place in the new model (dropped duplicate widgets, unreadable configs)
  legacy_extras jsonb not null default '{}',
  migrated_at timestamptz not null default now()
);

create table dashboard_widgets (
  user_id bigint not null references dashboard_configurations (user_id) on delete cascade,
  widget_id text not null,
  sort_order int not null,
  type text not null,
  -- false for types the renderer does not know: kept, but hidden
  known_type boolean not null,
  visible boolean not null,
  config jsonb not null default '{}',
  migration_notes text[] not null default '{}',
  primary key (user_id, widget_id),
  check (known_type or not visible)
);

-- Row-level security: the application connects as a non-owner role and sets
-- `app.user_id` per request (`select set_config('app.user_id', $1, true)`);
-- a user sees and changes only their own dashboard. The table owner (used by
-- migrations and the backfill) is not subject to these policies.
alter table dashboard_configurations enable row level security;
create policy dashboard_configurations_owner on dashboard_configurations
  using (user_id = nullif(current_setting('app.user_id', true), '')::bigint)
  with check (user_id = nullif(current_setting('app.user_id', true), '')::bigint);

alter table dashboard_widgets enable row level security;
create policy dashboard_widgets_owner on dashboard_widgets
  using (user_id = nullif(current_setting('app.user_id', true), '')::bigint)
  with check (user_id = nullif(current_setting('app.user_id', true), '')::bigint);

-- migrate:down
drop table dashboard_widgets;
drop table dashboard_configurations;
