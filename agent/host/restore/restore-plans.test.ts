import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { XapiVm } from '../xapi/xapi-records.js';
import { chooseNetwork, type TargetNetwork } from './map-networks.js';
import { parseStoredBackup } from '../metadata/parse-stored-backup.js';
import { IMPORT_BLOCK_REASON, blockedOperationsAfterImport, defaultRestoredName, vmCreateRecord } from './vm-create-record.js';

const recorded = {
  uuid: 'vm-uuid',
  name_label: 'web',
  name_description: 'front end',
  power_state: 'Running',
  is_a_snapshot: false,
  is_a_template: false,
  snapshot_of: 'OpaqueRef:NULL',
  snapshot_time: '19700101T00:00:00Z',
  snapshots: ['OpaqueRef:s'],
  other_config: { owner: 'ops', 'deltachain:policy': 'p', 'deltachain:exported': 'true' },
  VBDs: [],
  VIFs: [],
  bios_strings: { 'bios-vendor': 'Xen' },
  blocked_operations: { destroy: 'protected' },
  memory_static_max: 1024,
  memory_dynamic_max: 1024,
  memory_dynamic_min: 512,
  memory_static_min: 512,
  VCPUs_max: 2,
  VCPUs_at_startup: 1,
  platform: { viridian: 'true' },
  resident_on: 'OpaqueRef:host',
  domid: 3,
} as unknown as XapiVm;

describe('vmCreateRecord', () => {
  const record = vmCreateRecord(recorded, { nameLabel: 'web restored', backupId: 'b1', remoteId: 'r1', taskId: 't1' });
  it('copies the guest configuration and not the runtime state', () => {
    assert.equal(record.memory_dynamic_min, 512);
    assert.equal(record.VCPUs_max, 2);
    assert.deepEqual(record.platform, { viridian: 'true' });
    assert.equal(record.name_description, 'front end');
    assert.equal('resident_on' in record, false);
    assert.equal('domid' in record, false);
    assert.equal('snapshots' in record, false);
  });
  it('names the VM, never a template, no affinity, our tags stripped, origin recorded', () => {
    assert.equal(record.name_label, 'web restored');
    assert.equal(record.is_a_template, false);
    assert.equal(record.affinity, 'OpaqueRef:NULL');
    assert.deepEqual(record.other_config, { owner: 'ops', 'deltachain:restored-from': 'r1/vm-uuid/b1', 'deltachain:restore-task': 't1' });
  });
  it('blocks start while importing, then gives back what the VM had', () => {
    assert.deepEqual(record.blocked_operations, { destroy: 'protected', start: IMPORT_BLOCK_REASON, start_on: IMPORT_BLOCK_REASON });
    assert.deepEqual(blockedOperationsAfterImport(recorded), { destroy: 'protected' });
  });
  it('has a readable default name', () => {
    assert.equal(defaultRestoredName(recorded, '2024-04-20T12:00:00.000Z'), 'web (restored 2024-04-20 12:00:00)');
  });
});

describe('chooseNetwork', () => {
  const targets: TargetNetwork[] = [
    { ref: 'OpaqueRef:a', uuid: 'net-a', name_label: 'LAN', VLAN: -1 },
    { ref: 'OpaqueRef:b', uuid: 'net-b', name_label: 'DMZ', VLAN: 20 },
    { ref: 'OpaqueRef:c', uuid: 'net-c', name_label: 'DMZ', VLAN: 30 },
    { ref: 'OpaqueRef:d', uuid: 'net-d', name_label: 'Storage', VLAN: 40 },
  ];
  const cases: Array<[string, { uuid: string; name_label: string; VLAN: number }, string | undefined, string]> = [
    ['same pool: by uuid', { uuid: 'net-c', name_label: 'renamed', VLAN: 99 }, 'net-c', 'uuid'],
    ['other pool: VLAN and name', { uuid: 'x', name_label: 'DMZ', VLAN: 30 }, 'net-c', 'vlan-and-name'],
    ['other pool: a unique name', { uuid: 'x', name_label: 'LAN', VLAN: 5 }, 'net-a', 'name'],
    ['other pool: a unique VLAN', { uuid: 'x', name_label: 'iSCSI', VLAN: 40 }, 'net-d', 'vlan'],
    ['ambiguous name and no VLAN match: left out', { uuid: 'x', name_label: 'DMZ', VLAN: 77 }, undefined, 'none'],
    ['nothing matches', { uuid: 'x', name_label: 'Backup', VLAN: -1 }, undefined, 'none'],
  ];
  for (const [name, network, uuid, how] of cases) {
    it(name, () => {
      const choice = chooseNetwork({ ...network, MTU: 1500 }, targets);
      assert.equal(choice.network?.uuid, uuid);
      assert.equal(choice.how, how);
    });
  }
});

describe('parseStoredBackup', () => {
  const metadata = {
    format: 'deltachain-backup',
    version: 1,
    backupId: 'b1',
    vmUuid: 'vm-uuid',
    timestamp: '2024-04-20T12:00:00.000Z',
    records: { vm: recorded, vmSnapshot: {}, vbds: [{ uuid: 'vbd', type: 'Disk', userdevice: '0', $diskKey: 'k' }], vdis: [{ uuid: 'vdi', $diskKey: 'k' }], vifs: [] },
    disks: [{ key: 'k', virtualSize: 1048576, file: 'disks/k/b1.vhd' }],
  };
  it('reads records and disk sizes', () => {
    const backup = parseStoredBackup(JSON.stringify(metadata), 'test');
    assert.equal(backup.records.vm.name_label, 'web');
    assert.deepEqual(backup.disks, [{ key: 'k', virtualSize: 1048576 }]);
  });
  it('names what is missing', () => {
    const broken = { ...metadata, records: { ...metadata.records, vdis: [{ uuid: 'vdi' }] } };
    assert.throws(() => parseStoredBackup(JSON.stringify(broken), 'backup b1'), /backup b1: .*records\.vdis\.0\.\$diskKey/);
    assert.throws(() => parseStoredBackup('{', 'backup b1'), /not JSON/);
  });
});
