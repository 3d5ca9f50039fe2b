-- The first catalogue: pools, remotes, agents, policies, VMs, runs, tasks, chains, backups,
-- disks and reference snapshots. docs/catalogue.md explains each table and the decisions behind
-- the constraints. Forward only: a later change is a new numbered file.

-- Names an operator types (pools, remotes, policies): lower case, digits, '_', '-', at most 64
-- characters. The pattern is the one the task envelopes allow for pool and remote ids.
create domain object_name as text
  check (value ~ '^[a-z0-9][a-z0-9_-]{0,63}$');

create table pools (
  name        object_name primary key,
  site        text not null default '',
  description text not null default '',
  created_at  timestamptz not null default now()
);

create table remotes (
  name         object_name primary key,
  site         text not null default '',
  -- Where the storage agent keeps the remote (informational: paths are the agent's business).
  location     text not null default '',
  description  text not null default '',
  created_at   timestamptz not null default now(),
  last_scan_at timestamptz
);

-- Agents announce themselves with heartbeats. No foreign key to pools/remotes on purpose: an
-- agent configured for a pool nobody registered is still worth showing (as unknown).
create table agents (
  id                text primary key check (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
  role              text not null check (role in ('host', 'storage')),
  pool_name         text,
  remote_name       text,
  version           text not null default '',
  hostname          text not null default '',
  -- Storage agents: the gRPC address host agents push to, "host:port".
  address           text not null default '',
  running_tasks     integer not null default 0,
  concurrency       integer not null default 0,
  started_at        timestamptz,
  last_heartbeat_at timestamptz not null,
  check ((role = 'host' and pool_name is not null and remote_name is null)
      or (role = 'storage' and remote_name is not null and pool_name is null))
);

create table policies (
  id            uuid primary key,
  name          object_name not null unique,
  vm_uuids      uuid[] not null default '{}',
  vm_tags       text[] not null default '{}',
  pool_names    text[] not null default '{}',
  schedule      text not null,
  time_zone     text not null,
  retention     integer not null check (retention between 1 and 10000),
  full_interval integer not null check (full_interval between 0 and 10000),
  concurrency   integer not null check (concurrency between 1 and 1000),
  enabled       boolean not null default true,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  check (cardinality(vm_uuids) + cardinality(vm_tags) + cardinality(pool_names) > 0)
);

create table policy_remotes (
  policy_id   uuid not null references policies (id) on delete cascade,
  remote_name object_name not null references remotes (name) on delete restrict,
  primary key (policy_id, remote_name)
);

-- VMs as the host agents last reported them.
create table vms (
  uuid         uuid primary key,
  pool_name    object_name not null references pools (name) on delete cascade,
  name_label   text not null default '',
  tags         text[] not null default '{}',
  power_state  text not null default '',
  last_seen_at timestamptz not null
);
create index vms_by_pool on vms (pool_name);

create table runs (
  id           uuid primary key,
  policy_id    uuid references policies (id) on delete set null,
  policy_name  text not null,
  scheduled_at timestamptz not null,
  trigger      text not null check (trigger in ('schedule', 'manual')),
  state        text not null default 'pending'
               check (state in ('pending', 'running', 'succeeded', 'partial', 'failed', 'cancelled')),
  created_at   timestamptz not null default now(),
  started_at   timestamptz,
  finished_at  timestamptz,
  error        text,
  -- One run per policy and scheduled time: a scheduler firing twice (two coordinators, a
  -- restart) records the run once.
  unique (policy_id, scheduled_at),
  check (finished_at is null or state in ('succeeded', 'partial', 'failed', 'cancelled'))
);
create index runs_recent on runs (created_at desc);

create table tasks (
  id              uuid primary key,
  run_id          uuid references runs (id) on delete cascade,
  kind            text not null check (kind in ('backup', 'merge', 'delete', 'scan', 'restore', 'verify')),
  -- Where the task goes: a pool's host agents or a remote's storage agent.
  address_kind    text not null check (address_kind in ('pool', 'remote')),
  address         object_name not null,
  -- The remote a task works on: the address of storage tasks, the destination of a backup.
  remote_name     object_name,
  vm_uuid         uuid,
  payload         jsonb not null,
  state           text not null default 'queued'
                  check (state in ('queued', 'dispatched', 'running', 'succeeded', 'failed', 'cancelled')),
  attempt         integer not null default 0 check (attempt >= 0),
  max_attempts    integer not null check (max_attempts between 1 and 100),
  timeout_seconds integer not null check (timeout_seconds > 0),
  not_before      timestamptz not null default now(),
  deadline_at     timestamptz,
  created_at      timestamptz not null default now(),
  dispatched_at   timestamptz,
  started_at      timestamptz,
  finished_at     timestamptz,
  last_event_at   timestamptz,
  progress_done   bigint,
  progress_total  bigint,
  error_code      text,
  error_message   text,
  result          jsonb,
  check (state not in ('dispatched', 'running') or deadline_at is not null),
  check (state <> 'queued' or finished_at is null),
  check ((state in ('succeeded', 'failed', 'cancelled')) = (finished_at is not null))
);
create index tasks_active on tasks (state, not_before) where state in ('queued', 'dispatched', 'running');
create index tasks_by_run on tasks (run_id);
-- One backup task per VM and remote in a run.
create unique index tasks_one_backup_per_vm_remote_and_run on tasks (run_id, vm_uuid, remote_name)
  where kind = 'backup';

-- A chain is one disk's full and its deltas on one remote. A new full starts a new chain.
create table chains (
  id          uuid primary key,
  vm_uuid     uuid not null,
  remote_name object_name not null references remotes (name) on delete cascade,
  -- Which disk of the VM (the storage contract's disk_key): stable across snapshots.
  disk_key     text not null,
  created_at  timestamptz not null default now(),
  deleted_at  timestamptz
);
create index chains_by_disk on chains (remote_name, vm_uuid, disk_key);

-- A backup on one remote. The same backup id can be on several remotes (a remote seeded from a
-- copy of another holds the same backups), so the id is unique per remote and rows have a key.
create table backups (
  key         uuid primary key,
  -- docs/remote-format.md: ^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$, chosen by the coordinator.
  id          text not null check (id ~ '^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$'),
  task_id     uuid references tasks (id) on delete set null,
  run_id      uuid references runs (id) on delete set null,
  policy_id   uuid references policies (id) on delete set null,
  vm_uuid     uuid not null,
  vm_name     text not null default '',
  remote_name object_name not null references remotes (name) on delete cascade,
  taken_at    timestamptz not null,
  status      text not null default 'committed' check (status in ('committed', 'deleting', 'deleted')),
  size_bytes  bigint not null check (size_bytes >= 0),
  -- The metadata file on the remote, relative to the remote's root: the commit point.
  metadata_path text not null,
  created_at  timestamptz not null default now(),
  deleted_at  timestamptz,
  unique (remote_name, id),
  -- One committed backup per task: a task delivered twice records its backup once.
  unique (task_id),
  check ((status = 'deleted') = (deleted_at is not null))
);
create index backups_by_vm on backups (vm_uuid, remote_name, taken_at);

create table disks (
  id          uuid primary key,
  backup_key  uuid not null references backups (key) on delete cascade,
  disk_key     text not null,
  chain_id    uuid not null references chains (id) on delete cascade,
  -- 0 for the full that started the chain, n for the n-th delta after it. Merges keep positions,
  -- so `tail position + 1` is how many backups the chain has taken (the full interval counts it).
  position    integer not null check (position >= 0),
  parent_id   uuid references disks (id) on delete restrict,
  -- What the file is now: a merge turns the oldest delta into the chain's full.
  kind        text not null check (kind in ('full', 'delta')),
  file        text not null,
  size_bytes  bigint not null check (size_bytes >= 0),
  virtual_size bigint not null check (virtual_size >= 0),
  checksum    text not null default '',
  -- The VHD footer uuid: the uuid of the snapshot VDI the disk was exported from.
  footer_uuid uuid not null,
  state       text not null default 'present' check (state in ('present', 'merged', 'deleted')),
  unique (backup_key, disk_key),
  unique (chain_id, position),
  check ((kind = 'full') = (parent_id is null))
);
-- One child per parent: a chain never forks.
create unique index disks_one_child_per_parent on disks (parent_id) where parent_id is not null;

-- The reference snapshot per policy, VM and remote: the base of the next delta to that remote.
-- It moves only after a backup committed; `gone_at` is set when the host reports it missing.
-- (Per remote, because a backup task writes one remote: see docs/catalogue.md.)
create table reference_snapshots (
  policy_id     uuid not null references policies (id) on delete cascade,
  vm_uuid       uuid not null,
  remote_name   object_name not null references remotes (name) on delete cascade,
  snapshot_uuid uuid not null,
  -- { "<disk key>": "<snapshot VDI uuid>" } for every disk of the snapshot.
  vdis          jsonb not null,
  taken_at      timestamptz not null,
  gone_at       timestamptz,
  updated_at    timestamptz not null default now(),
  primary key (policy_id, vm_uuid, remote_name)
);
