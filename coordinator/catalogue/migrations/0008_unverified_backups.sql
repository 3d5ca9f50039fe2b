-- Backups nobody can rewrite (docs/catalogue.md, "Unverified backups"): a remote scan records a
-- backup the catalogue cannot vouch for — no backup with the same id, disks, footer uuids and
-- digests is known on any remote — as 'unverified': listed by `backup list`, never chosen for a
-- restore, a delta's base or a retention merge (all of which read 'committed' only), until an
-- operator accepts it (`deltachain remote scan <remote> --accept`), which makes it 'committed'.
alter table backups drop constraint backups_status_check;
alter table backups add constraint backups_status_check
  check (status in ('committed', 'deleting', 'deleted', 'unverified'));
