-- Per policy: after each successful backup, the reference snapshot's disks that were read over
-- CBT and NBD keep only their CBT metadata (VDI.data_destroy), so the pool's SR holds no snapshot
-- data between runs. On for every existing policy, as for new ones.
alter table policies add column purge_snapshot_data boolean not null default true;
