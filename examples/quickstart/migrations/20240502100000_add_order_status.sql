-- migrate:up
-- A constant default does not rewrite the table (PostgreSQL 11+).
alter table orders add column status text not null default 'pending';

-- Add the check without scanning under ACCESS EXCLUSIVE, then validate it
-- under a weaker lock.
alter table orders add constraint orders_status_check
  check (status in ('pending', 'paid', 'shipped', 'cancelled')) not valid;
alter table orders validate constraint orders_status_check;

-- migrate:down
alter table orders drop constraint orders_status_check;
alter table orders drop column status;
