-- Host agents report their pool's VMs (deltachain.tasks.v1.InventoryEvent). A report is
-- complete, so a VM of the pool missing from it is marked gone (gone_at) rather than deleted:
-- its backups, chains and runs still name it. A later report that lists it again clears the mark.
alter table vms add column gone_at timestamptz;
-- The VM's disks as last reported: [{"vdiUuid": "…", "virtualSize": bytes}].
alter table vms add column disks jsonb not null default '[]';
-- The XAPI pool uuid the pool's host agents last reported ('' until one has).
alter table pools add column xapi_uuid text not null default '';
