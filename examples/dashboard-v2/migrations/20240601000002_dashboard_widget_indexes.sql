-- Indexes built without blocking writes (CREATE INDEX CONCURRENTLY cannot run
-- in a transaction, hence transaction:false; cutover cleans up an index left
-- invalid by an interrupted build before retrying).
-- migrate:up transaction:false
create index concurrently if not exists dashboard_widgets_visible_idx
  on dashboard_widgets (user_id, sort_order) where visible;
create index concurrently if not exists dashboard_widgets_unknown_type_idx
  on dashboard_widgets (type) where not known_type;

-- migrate:down transaction:false
drop index concurrently if exists dashboard_widgets_unknown_type_idx;
drop index concurrently if exists dashboard_widgets_visible_idx;
