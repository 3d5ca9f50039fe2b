import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { XapiVbd, XapiVdi } from '../xapi/xapi-records.js';
import { selectDisks } from './select-disks.js';
import { formatXapiDate, parseXapiDate } from './xapi-date.js';
import { policyIdFromSnapshotName, readSnapshotTags, remotesKey, snapshotName, snapshotTags, TAG } from './snapshot-tags.js';

function vbd(ref: string, vdi: string, type = 'Disk', userdevice = '0'): [string, XapiVbd] {
  return [ref, { uuid: `u-${ref}`, VM: 'OpaqueRef:vm', VDI: vdi, type, userdevice, bootable: false, mode: 'RW', empty: vdi === 'OpaqueRef:NULL', other_config: {} }];
}
function vdi(ref: string, name: string, otherConfig: Record<string, string> = {}): [string, XapiVdi] {
  return [
    ref,
    {
      uuid: `uuid-${ref}`,
      name_label: name,
      name_description: '',
      virtual_size: 1 << 20,
      type: 'user',
      SR: 'OpaqueRef:sr',
      sharable: false,
      read_only: false,
      managed: true,
      is_a_snapshot: false,
      snapshot_of: 'OpaqueRef:NULL',
      snapshot_time: '19700101T00:00:00Z',
      other_config: otherConfig,
      VBDs: [],
    },
  ];
}

describe('selectDisks', () => {
  it('takes disk VBDs in device order, skips CDs, empty drives and flagged VDIs', () => {
    const vbds = new Map([
      vbd('vbd-2', 'OpaqueRef:data', 'Disk', '2'),
      vbd('vbd-0', 'OpaqueRef:root', 'Disk', '0'),
      vbd('vbd-cd', 'OpaqueRef:iso', 'CD', '3'),
      vbd('vbd-empty', 'OpaqueRef:NULL', 'CD', '4'),
      vbd('vbd-skip', 'OpaqueRef:scratch', 'Disk', '1'),
      vbd('vbd-nobak', 'OpaqueRef:swap', 'Disk', '5'),
    ]);
    const vdis = new Map([
      vdi('OpaqueRef:data', 'data'),
      vdi('OpaqueRef:root', 'root'),
      vdi('OpaqueRef:iso', 'installer.iso'),
      vdi('OpaqueRef:scratch', 'scratch', { 'deltachain:skip': 'true' }),
      vdi('OpaqueRef:swap', '[NOBAK] swap'),
    ]);
    const selection = selectDisks(vbds, vdis);
    assert.deepEqual(
      selection.disks.map((d) => d.vdi.name_label),
      ['root', 'data'],
    );
    assert.equal(selection.disks[0]!.diskKey, 'uuid-OpaqueRef:root');
    assert.deepEqual(selection.skipped.map((s) => s.vdiRef).sort(), ['OpaqueRef:scratch', 'OpaqueRef:swap']);
  });
});

describe('snapshot tags and names', () => {
  it('round-trips tags and reads the exported mark', () => {
    const tags = snapshotTags({ policyId: 'p', vmUuid: 'v', datetime: 'd', chainLength: 3, taskId: 't', backupIds: ['b1', 'b2'], remotes: 'r1,r2' });
    assert.deepEqual(readSnapshotTags(tags), {
      policyId: 'p',
      vmUuid: 'v',
      datetime: 'd',
      chainLength: 3,
      taskId: 't',
      backupIds: ['b1', 'b2'],
      remotes: 'r1,r2',
      exported: false,
      result: undefined,
    });
    assert.equal(readSnapshotTags({ ...tags, [TAG.exported]: 'true' })?.exported, true);
    assert.equal(readSnapshotTags({ [TAG.policy]: 'p' }), undefined, 'partly tagged is not ours');
  });
  it('spells a remote set the same whatever the order', () => {
    assert.equal(remotesKey(['b', 'a', 'b']), 'a,b');
  });
  it('finds the policy id in a snapshot name', () => {
    assert.equal(policyIdFromSnapshotName(snapshotName('p-1', 'web [prod]')), 'p-1');
    assert.equal(policyIdFromSnapshotName('web before upgrade'), undefined);
  });
  it('parses XAPI datetimes in both spellings and treats the epoch as none', () => {
    assert.equal(parseXapiDate('20240420T12:00:00Z')?.toISOString(), '2024-04-20T12:00:00.000Z');
    assert.equal(parseXapiDate('2024-04-20T12:00:00Z')?.toISOString(), '2024-04-20T12:00:00.000Z');
    assert.equal(parseXapiDate('19700101T00:00:00Z'), undefined);
    assert.equal(parseXapiDate('yesterday'), undefined);
    assert.equal(formatXapiDate(new Date('2024-04-20T12:00:00.500Z')), '20240420T12:00:00Z');
  });
});
