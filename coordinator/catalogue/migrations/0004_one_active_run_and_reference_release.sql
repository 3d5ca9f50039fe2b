-- One active run per policy, the `skipped` run state, and the `release` task kind.
-- docs/catalogue.md (runs and tasks) explains each.

-- A policy runs one at a time: two runs of one policy at once would back up the same disk state
-- twice (two manual runs issued together, a firing while a run is still going). The catalogue
-- enforces it, so two coordinators or two concurrent API calls cannot both start one: the second
-- insert waits for the first and then fails on this index.
--
-- A database that already holds two active runs of one policy (started by an older coordinator)
-- keeps the oldest attached; the newer ones are detached from the policy id (still listed under
-- the policy's name, and finished as usual) so the index can be built.
update runs set policy_id = null
where state in ('pending', 'running') and policy_id is not null
  and id not in (
    select distinct on (policy_id) id from runs
    where state in ('pending', 'running') and policy_id is not null
    order by policy_id, created_at, id);
create unique index runs_one_active_per_policy on runs (policy_id) where state in ('pending', 'running');

-- A scheduled firing that found the policy's previous run still active is recorded as skipped
-- (finished at once, the active run named in `error`), so it shows in `run list` and the
-- scheduler's catch-up point moves past it.
alter table runs drop constraint runs_state_check;
alter table runs add constraint runs_state_check
  check (state in ('pending', 'running', 'succeeded', 'partial', 'failed', 'cancelled', 'skipped'));
alter table runs drop constraint runs_check;
alter table runs add constraint runs_check
  check (finished_at is null or state in ('succeeded', 'partial', 'failed', 'cancelled', 'skipped'));

-- `release`: a pool's host agents destroy the reference snapshots a policy keeps for VMs it no
-- longer backs up or remotes it no longer writes to (deltachain.tasks.v1.ReleaseReferencesTask).
alter table tasks drop constraint tasks_kind_check;
alter table tasks add constraint tasks_kind_check
  check (kind in ('backup', 'merge', 'delete', 'scan', 'restore', 'verify', 'release'));
-- Releases queued or in flight, looked up by policy when more are queued and at dispatch.
create index tasks_active_releases on tasks ((payload->>'policyId'), address)
  where kind = 'release' and state in ('queued', 'dispatched', 'running');
-- Backups queued or in flight per policy and pool: a release waits for them at dispatch.
create index tasks_active_backups_by_policy on tasks ((payload->>'policyId'), address)
  where kind = 'backup' and state in ('queued', 'dispatched', 'running');
