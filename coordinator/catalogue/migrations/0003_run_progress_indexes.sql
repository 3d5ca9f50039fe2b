-- Indexes for the coordinator's hot paths at scale (thousands of tasks per run), measured with
-- the coordinator bench (test/bench/coordinator):
--   * a run's state is re-derived after every task event; "does the run still have active
--     tasks, and has any left the queue" must not read every task of the run;
--   * the timeout sweep of every dispatch round must not walk every in-flight task.
create index tasks_active_by_run on tasks (run_id) where state in ('queued', 'dispatched', 'running');
create index tasks_started_by_run on tasks (run_id) where state <> 'queued';
create index tasks_in_flight_by_deadline on tasks (deadline_at) where state in ('dispatched', 'running');
