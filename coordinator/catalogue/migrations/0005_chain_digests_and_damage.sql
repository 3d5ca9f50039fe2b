-- Restores prove their bytes: each backup disk keeps the chain digest the storage agent computed
-- when the backup was committed (what a restore of it must produce; docs/remote-format.md §6),
-- and damage found on a backup — by a verify task, or by a restore that failed on the data — is
-- recorded per disk of the backup, so operators see it and the planner starts a new chain.

-- Hex SHA-256 (64 characters); '' for disks recorded before the storage agent computed it.
alter table disks add column chain_digest text not null default ''
  check (chain_digest ~ '^([0-9a-f]{64})?$');

-- One finding per backup disk and damaged file: the file is this backup's own VHD or an
-- ancestor's in its chain, relative to the remote root ('' when the finding named no file: a
-- restore whose data did not match its chain digest). A finding made again updates its blocks,
-- reason and last_found_at; first_found_at stays. Findings go with their disk (cascade).
create table disk_damage (
  disk_id        uuid not null references disks (id) on delete cascade,
  file           text not null,
  -- Bad block indexes in that file; empty when the damage is not one block.
  blocks         integer[] not null default '{}',
  reason         text not null check (reason <> ''),
  found_by       text not null check (found_by in ('verify', 'restore')),
  task_id        uuid references tasks (id) on delete set null,
  first_found_at timestamptz not null,
  last_found_at  timestamptz not null,
  primary key (disk_id, file),
  check (last_found_at >= first_found_at)
);
