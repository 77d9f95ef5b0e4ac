import type { ControlMigration } from './control-migration.js';

/**
 * cutover's internal migration 0003: the feature-flag store, client tokens,
 * the flag audit log and client metrics, in schema `cutover`.
 *
 * - `flags`: the current definition of each flag (the whole `Flag` as
 *   jsonb, environments included) and its current version.
 * - `flag_versions`: every version of every flag with who (`actor`), when
 *   (`created_at`) and why (`reason`); `definition` is null for a deletion.
 *   Versions count from 1 per key and keep counting after a delete;
 *   `previous_version` is the version the change started from (0: absent),
 *   `operation_id` the caller's idempotency key (unique per flag).
 * - `flag_segments`: segments (reusable constraint sets), sent to every environment.
 * - `flag_state`: one row holding the global flag revision (bumped by every
 *   change; its row lock serialises writers) and a random `epoch` that makes
 *   ETags differ between two databases.
 * - `flag_environments`: the revision of each environment's client payload
 *   (the global revision of the last change that altered it), for ETags and
 *   the stream's event ids.
 * - `flag_events`: the audit log of flag, segment and token changes (actor =
 *   token name, CLI user or run). `flag_versions` and `flag_events` are
 *   append-only (triggers reject UPDATE, DELETE and TRUNCATE).
 * - `tokens`: API tokens, stored as sha256 hashes only.
 * - `flag_metrics`, `client_applications`: what Unleash clients report through
 *   `/api/client/metrics` and `/api/client/register`.
 */
export const migration0003: ControlMigration = {
  version: 3,
  name: 'flags',
  sql: `
create table cutover.flags (
  key text primary key,
  definition jsonb not null,
  version integer not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  updated_by text not null
);

create table cutover.flag_versions (
  key text not null,
  version integer not null,
  action text not null,
  definition jsonb,
  actor text not null,
  reason text,
  revision bigint not null,
  previous_version integer not null,
  operation_id text,
  created_at timestamptz not null,
  primary key (key, version)
);
create unique index flag_versions_operation_idx on cutover.flag_versions (key, operation_id)
  where operation_id is not null;

create table cutover.flag_segments (
  id integer primary key,
  definition jsonb not null,
  updated_at timestamptz not null,
  updated_by text not null
);

create table cutover.flag_state (
  id boolean primary key default true check (id),
  revision bigint not null default 0,
  epoch text not null default replace(gen_random_uuid()::text, '-', '')
);
insert into cutover.flag_state (id) values (true);

create table cutover.flag_environments (
  environment text primary key,
  revision bigint not null
);

create table cutover.flag_events (
  id bigserial primary key,
  at timestamptz not null,
  actor text not null,
  action text not null,
  flag_key text,
  environment text,
  version integer,
  reason text,
  details jsonb
);
create index flag_events_flag_key_idx on cutover.flag_events (flag_key, id);

-- The history and the audit log are append-only.
create function cutover.flag_history_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'cutover.% is append-only', tg_table_name using errcode = 'insufficient_privilege';
end
$$;
create trigger flag_versions_append_only before update or delete on cutover.flag_versions
  for each row execute function cutover.flag_history_append_only();
create trigger flag_versions_no_truncate before truncate on cutover.flag_versions
  for each statement execute function cutover.flag_history_append_only();
create trigger flag_events_append_only before update or delete on cutover.flag_events
  for each row execute function cutover.flag_history_append_only();
create trigger flag_events_no_truncate before truncate on cutover.flag_events
  for each statement execute function cutover.flag_history_append_only();

create table cutover.tokens (
  id bigserial primary key,
  name text not null,
  type text not null check (type in ('client', 'admin')),
  environment text,
  hash bytea not null unique,
  display text not null,
  created_at timestamptz not null,
  created_by text not null,
  revoked_at timestamptz,
  revoked_by text,
  check ((type = 'client') = (environment is not null))
);
create unique index tokens_active_name_idx on cutover.tokens (name) where revoked_at is null;

create table cutover.flag_metrics (
  flag_key text not null,
  environment text not null,
  app_name text not null,
  period_start timestamptz not null,
  yes bigint not null default 0,
  no bigint not null default 0,
  variants jsonb not null default '{}',
  primary key (flag_key, environment, app_name, period_start)
);

create table cutover.client_applications (
  app_name text not null,
  instance_id text not null,
  environment text not null,
  sdk_version text,
  strategies jsonb not null default '[]',
  started_at timestamptz,
  interval_ms integer,
  first_seen timestamptz not null,
  last_seen timestamptz not null,
  primary key (app_name, instance_id, environment)
);
`,
};
