-- The control API's audit trail (docs/security.md, "Control API"): one row per call, written by
-- the coordinator after it decided — refused calls too. `who` is what the transport proved (a
-- certificate's identity "operator:alice", "local socket", or "plaintext <peer>" on an insecure
-- API), never what the request says. Arguments are a bounded summary with secrets hidden.
create table control_audit (
  id bigserial primary key,
  at timestamptz not null,
  who text not null check (length(who) between 1 and 200),
  method text not null check (method ~ '^[A-Za-z]{1,64}$'),
  arguments text not null default '' check (length(arguments) <= 4096),
  outcome text not null check (outcome in ('ok', 'refused', 'failed')),
  detail text not null default '' check (length(detail) <= 2048)
);

create index control_audit_by_time on control_audit (at desc);
