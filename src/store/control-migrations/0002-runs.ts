import type { ControlMigration } from './control-migration.js';

/**
 * 0002: durable plan runs.
 *
 * - `cutover.runs` — one row per run of a plan: the plan snapshot it executes
 *   (steps with their interpolated specs), its status (`running`, `paused`,
 *   `failed`, `completed`, `rolled_back`) and mode (`apply` or `rollback`), a
 *   pending stop request, the last error.
 * - `cutover.steps` — one row per step of a run: status (`pending`, `running`,
 *   `paused`, `completed`, `failed`, `compensating`, `compensated`), attempt,
 *   started/finished, output, checkpoint (a step kind's durable cursor),
 *   progress, error.
 * - `cutover.events` — the audit log: every state change with actor, time,
 *   run, step and details. Append-only: triggers reject UPDATE, DELETE and
 *   TRUNCATE.
 * - `cutover.leases` — one row per leased resource (`plan:<name>`): owner id,
 *   host, pid, expiry (server time), renewed by heartbeat.
 * - `cutover.approvals` — approvals of `approve` steps (who, when, comment).
 */
export const migration0002: ControlMigration = {
  version: 2,
  name: 'runs',
  sql: `
create table cutover.runs (
  id uuid primary key,
  plan_name text not null,
  plan_file text,
  plan_dir text not null,
  plan_hash text not null,
  plan jsonb not null,
  environment text not null,
  on_failure text not null check (on_failure in ('rollback', 'pause')),
  status text not null check (status in ('running', 'paused', 'failed', 'completed', 'rolled_back')),
  mode text not null default 'apply' check (mode in ('apply', 'rollback')),
  until_phase text,
  auto_approve boolean not null default false,
  created_by text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  finished_at timestamptz,
  stop_requested_at timestamptz,
  stop_requested_by text,
  error jsonb
);
create index runs_plan_name_created_at on cutover.runs (plan_name, created_at desc);
comment on table cutover.runs is 'Runs of cutover plans (durable state machines).';

create table cutover.steps (
  run_id uuid not null references cutover.runs (id),
  step_id text not null,
  position integer not null,
  phase text not null,
  phase_irreversible boolean not null default false,
  kind text not null,
  spec jsonb not null,
  location text,
  status text not null default 'pending'
    check (status in ('pending', 'running', 'paused', 'completed', 'failed', 'compensating', 'compensated')),
  attempt integer not null default 0,
  started_at timestamptz,
  finished_at timestamptz,
  output jsonb,
  checkpoint jsonb,
  progress jsonb,
  error jsonb,
  compensation_started_at timestamptz,
  compensated_at timestamptz,
  primary key (run_id, step_id),
  unique (run_id, position)
);
comment on table cutover.steps is 'Steps of runs: status, attempt, output, checkpoint, progress.';

create table cutover.events (
  id bigint generated always as identity primary key,
  run_id uuid references cutover.runs (id),
  step_id text,
  type text not null,
  actor text not null,
  at timestamptz not null default clock_timestamp(),
  details jsonb not null default '{}'::jsonb
);
create index events_run_id on cutover.events (run_id, id);
comment on table cutover.events is 'Audit log of runs. Append-only: UPDATE, DELETE and TRUNCATE are rejected.';

create function cutover.reject_event_change() returns trigger language plpgsql as $$
begin
  raise exception 'cutover.events is append-only: % is not allowed', tg_op
    using errcode = '42501',
          hint = 'The audit log keeps every event; add a new event instead.';
end
$$;
create trigger events_append_only before update or delete on cutover.events
  for each row execute function cutover.reject_event_change();
create trigger events_no_truncate before truncate on cutover.events
  for each statement execute function cutover.reject_event_change();

create table cutover.leases (
  resource text primary key,
  run_id uuid,
  owner_id text not null,
  host text not null,
  pid integer not null,
  acquired_at timestamptz not null default clock_timestamp(),
  renewed_at timestamptz not null default clock_timestamp(),
  expires_at timestamptz not null
);
comment on table cutover.leases is 'Leases: one executor per plan; expiry in server time, renewed by heartbeat.';

create table cutover.approvals (
  run_id uuid not null references cutover.runs (id),
  step_id text not null,
  approved_by text not null,
  approved_at timestamptz not null default clock_timestamp(),
  comment text,
  primary key (run_id, step_id)
);
comment on table cutover.approvals is 'Approvals of approve steps.';
`,
};
