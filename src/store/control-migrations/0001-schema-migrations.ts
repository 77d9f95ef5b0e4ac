import type { ControlMigration } from './control-migration.js';

/**
 * 0001: the history of user migrations and the statement-level checkpoints of
 * non-transactional migrations.
 *
 * `cutover.schema_migrations` — one row per applied versioned migration (key:
 * `version`), one row per repeatable migration (key: `name`, checksum of the
 * last applied text), and at most one `baseline` marker (versions up to it are
 * treated as applied). `source` says who applied it: cutover itself,
 * `baseline`, or a tool whose history was adopted (`prisma`, `flyway`).
 *
 * `cutover.migration_checkpoints` — while a non-transactional migration runs
 * statement by statement, how many statements have completed (and a hash of
 * their text), so a failed run resumes at the statement it stopped at.
 */
export const migration0001: ControlMigration = {
  version: 1,
  name: 'schema-migrations',
  sql: `
create table cutover.schema_migrations (
  id bigint generated always as identity primary key,
  version text,
  name text not null,
  kind text not null check (kind in ('versioned', 'repeatable', 'baseline')),
  checksum text,
  applied_at timestamptz not null default clock_timestamp(),
  execution_ms integer not null default 0 check (execution_ms >= 0),
  applied_by text not null,
  run_id uuid,
  source text not null default 'cutover' check (source in ('cutover', 'baseline', 'prisma', 'flyway')),
  constraint schema_migrations_version_kind check ((version is null) = (kind = 'repeatable'))
);
create unique index schema_migrations_version_key on cutover.schema_migrations (version)
  where version is not null;
create unique index schema_migrations_repeatable_key on cutover.schema_migrations (name)
  where kind = 'repeatable';
create index schema_migrations_run_id on cutover.schema_migrations (run_id) where run_id is not null;
comment on table cutover.schema_migrations is
  'History of user migrations applied by cutover (one row per versioned migration, one per repeatable, optional baseline marker).';

create table cutover.migration_checkpoints (
  migration_key text not null,
  direction text not null check (direction in ('up', 'down')),
  name text not null,
  statements_done integer not null check (statements_done >= 0),
  done_hash text not null,
  last_error text,
  run_id uuid,
  updated_at timestamptz not null default clock_timestamp(),
  primary key (migration_key, direction)
);
comment on table cutover.migration_checkpoints is
  'Statement-level checkpoints of non-transactional migrations that have not finished.';
`,
};
