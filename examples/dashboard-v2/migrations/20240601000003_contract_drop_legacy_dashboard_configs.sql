-- Contract: once every reader uses dashboard_configurations, drop the legacy table.
-- A point of no return: the plan runs it in an irreversible phase.
-- migrate:up
drop table legacy_dashboard_configs;

-- migrate:down
do $$
begin
  raise exception 'legacy_dashboard_configs was dropped with its data: restore it from the backup the plan took (cutover backup list / cutover backup restore)';
end
$$;
