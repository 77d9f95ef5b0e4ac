-- migrate:up
create table accounts (
  id bigint generated always as identity primary key,
  email text not null unique,
  display_name text,
  created_at timestamptz not null default now()
);

-- migrate:down
drop table accounts;
