import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildInventory, type InventoryRecords } from './build-inventory.js';
import type { XapiVm } from '../xapi/xapi-records.js';

function vm(uuid: string, extra: Partial<XapiVm> = {}): XapiVm {
  return {
    uuid, name_label: `vm ${uuid}`, name_description: '', power_state: 'Running', is_a_snapshot: false, is_a_template: false, is_control_domain: false,
    snapshot_of: 'OpaqueRef:NULL', snapshot_time: '', snapshots: [], other_config: {}, VBDs: [], VIFs: [], bios_strings: {}, blocked_operations: {}, tags: [], ...extra,
  };
}

const vbd = (vmRef: string, vdiRef: string, type = 'Disk', empty = false) => ({ uuid: `vbd-${vdiRef}`, VM: vmRef, VDI: vdiRef, type, userdevice: '0', bootable: false, mode: 'RW', empty, other_config: {} });
const vdi = (uuid: string, size: number) => ({ uuid, name_label: '', name_description: '', virtual_size: size, type: 'user', SR: 'OpaqueRef:sr', sharable: false, read_only: false, managed: true, is_a_snapshot: false, snapshot_of: 'OpaqueRef:NULL', snapshot_time: '', other_config: {}, VBDs: [] });

describe('buildInventory', () => {
  it('lists real VMs only, sorted by uuid, with tags, power state and disk VDIs (not CD drives)', () => {
    const records: InventoryRecords = {
      vms: {
        'OpaqueRef:b': vm('BBBBBBBB-0000-0000-0000-000000000000', { tags: ['prod'], power_state: 'Halted', VBDs: ['OpaqueRef:vbd1', 'OpaqueRef:cd', 'OpaqueRef:missing'] }),
        'OpaqueRef:a': vm('aaaaaaaa-0000-0000-0000-000000000000'),
        'OpaqueRef:snap': vm('cccccccc-0000-0000-0000-000000000000', { is_a_snapshot: true }),
        'OpaqueRef:tpl': vm('dddddddd-0000-0000-0000-000000000000', { is_a_template: true }),
        'OpaqueRef:dom0': vm('eeeeeeee-0000-0000-0000-000000000000', { is_control_domain: true }),
      },
      vbds: { 'OpaqueRef:vbd1': vbd('OpaqueRef:b', 'OpaqueRef:vdi1'), 'OpaqueRef:cd': vbd('OpaqueRef:b', 'OpaqueRef:iso', 'CD') },
      vdis: { 'OpaqueRef:vdi1': vdi('11111111-0000-0000-0000-000000000000', 32 * 1024 * 1024), 'OpaqueRef:iso': vdi('22222222-0000-0000-0000-000000000000', 1000) },
    };
    assert.deepEqual(buildInventory(records), [
      { uuid: 'aaaaaaaa-0000-0000-0000-000000000000', nameLabel: 'vm aaaaaaaa-0000-0000-0000-000000000000', tags: [], powerState: 'Running', disks: [] },
      {
        uuid: 'bbbbbbbb-0000-0000-0000-000000000000',
        nameLabel: 'vm BBBBBBBB-0000-0000-0000-000000000000',
        tags: ['prod'],
        powerState: 'Halted',
        disks: [{ vdiUuid: '11111111-0000-0000-0000-000000000000', virtualSize: 32 * 1024 * 1024 }],
      },
    ]);
  });

  it('an empty pool reports no VMs', () => {
    assert.deepEqual(buildInventory({ vms: {}, vbds: {}, vdis: {} }), []);
  });
});
