-- Mirrors (docs/multi-site.md, "Mirrors"): copy a remote's backups to another remote, storage agent
-- to storage agent. A mirror names its source and target remotes, the VMs it copies (none named:
-- every VM with backups on the source) and the target's own retention. Copies are backups of the
-- target remote like any other, with the same backup id as on the source; `mirror_id` says which
-- mirror made them (and whose retention the target applies to them).
create table mirrors (
  id            uuid primary key,
  name          object_name not null unique,
  source_remote object_name not null references remotes (name) on delete restrict,
  target_remote object_name not null references remotes (name) on delete restrict,
  vm_uuids      uuid[] not null default '{}',
  retention     integer not null check (retention between 1 and 10000),
  enabled       boolean not null default true,
  created_at    timestamptz not null default now(),
  check (source_remote <> target_remote),
  unique (source_remote, target_remote)
);

alter table tasks drop constraint tasks_kind_check;
alter table tasks add constraint tasks_kind_check
  check (kind in ('backup', 'merge', 'delete', 'scan', 'restore', 'verify', 'release', 'mirror'));

alter table backups add column mirror_id uuid references mirrors (id) on delete set null;
create index tasks_active_mirrors on tasks ((payload->>'mirrorId'), vm_uuid)
  where kind = 'mirror' and state in ('queued', 'dispatched', 'running');
