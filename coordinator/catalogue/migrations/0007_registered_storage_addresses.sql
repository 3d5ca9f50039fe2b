-- Storage agents' addresses are registered by an operator (`deltachain remote add --address`,
-- `remote edit`) and put in backup and restore tasks from here — never learnt from heartbeats,
-- which anyone able to publish an event could forge. '' = not registered yet: backups and
-- restores to the remote wait (NO_STORAGE_ADDRESS) until it is.
alter table remotes add column address text not null default ''
  check (address = '' or address ~ '^[^\s/]+:[0-9]{1,5}$');

-- Agents are named by the NATS subject they publish on (role, pool or remote, name), which the
-- server authorises: the same name under two pools is two agents, and a heartbeat from one can
-- never overwrite the other's row.
alter table agents drop constraint agents_pkey;
create unique index agents_by_sender on agents (role, (coalesce(pool_name, remote_name)), id);
