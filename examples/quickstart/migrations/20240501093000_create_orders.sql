-- migrate:up
create table orders (
  id bigint generated always as identity primary key,
  account_id bigint not null references accounts (id),
  total_cents integer not null check (total_cents >= 0),
  created_at timestamptz not null default now()
);

insert into accounts (email, display_name)
select 'user' || g || '@example.com', 'User ' || g from generate_series(1, 500) g;

insert into orders (account_id, total_cents)
select 1 + (g % 500), (g * 37) % 10000 from generate_series(1, 5000) g;

-- migrate:down
drop table orders;
delete from accounts where email like 'user%@example.com';
