-- One active coordinator at a time (docs/multi-site.md, "Coordinators"): the lease row names the
-- holder, until when it holds (the database's clock, never a coordinator's), and the term — the
-- fencing token, which grows each time the lease changes hands (coordinator-lease.ts). Every task
-- attempt records the term it was dispatched under; agents refuse attempts of a term older than one
-- they have taken.
create table coordinator_lease (
  id smallint primary key check (id = 1),
  holder text not null,
  term bigint not null check (term > 0),
  acquired_at timestamptz not null,
  renewed_at timestamptz not null,
  expires_at timestamptz not null
);
alter table tasks add column dispatch_term bigint;
