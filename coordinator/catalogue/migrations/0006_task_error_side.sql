-- The side a task's last failure was on, as its agent named it (shared/errors.ts FailureSide):
-- the pool, the storage agent, the network, a full remote, damaged data, or a refused request —
-- so `run show` can say where to look. Null when unknown (older agents, timeouts) or after a
-- success. Agents' values are checked at the edge (unknown ones become null).
alter table tasks add column error_side text
  check (error_side in ('pool', 'storage', 'network', 'remote-full', 'data', 'request'));
