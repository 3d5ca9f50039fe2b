-- Sealed digests (docs/security.md, "Backups nobody can rewrite"): each disk's footer uuid and
-- chain digest are sealed with an HMAC under the coordinator's digest key (keys.digest), which
-- neither Postgres nor the storage side holds. verify, scan and restore check the seal, so a
-- digest changed in the database is seen. digest_seal_key remembers which key sealed the
-- catalogue (a fingerprint, not the key): the first start with a key seals what is there.
alter table disks add column digest_seal text not null default '';
create table digest_seal_key (
  only_row    boolean primary key default true check (only_row),
  fingerprint text not null,
  sealed_at   timestamptz not null default now()
);
