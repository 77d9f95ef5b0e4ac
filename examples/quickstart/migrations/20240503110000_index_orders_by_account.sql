-- migrate:up
-- CONCURRENTLY cannot run inside a transaction: cutover runs this migration
-- statement by statement, with a checkpoint, and says so.
create index concurrently orders_account_id_created_at_idx
  on orders (account_id, created_at desc);

-- migrate:down
drop index concurrently orders_account_id_created_at_idx;
