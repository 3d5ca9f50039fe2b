// VDI.pool_migrate through the real xen-api client, against XAPI's rules: refused while CBT is
// enabled (VDI_CBT_ENABLED), refused for a disk of a halted VM (VDI_NEEDS_VM_FOR_MIGRATE); once
// CBT is off the disk moves to a new VDI (new ref and uuid) with the same bytes, and a snapshot
// from before the move has no changed blocks towards one taken after (VDI_NO_CBT_METADATA).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { XapiRecord } from 'xen-api';
import { MiB, snapshotDisk, startTestLab, vmDisk, type TestLab } from '../../../test/support/lab-harness.js';

const DISK = 32 * MiB;

describe('lab pool: VDI.pool_migrate and CBT', () => {
  let lab: TestLab;
  let srB: string;

  before(async () => {
    lab = await startTestLab({
      fleet: {
        srs: [{ name: 'A' }, { name: 'B' }],
        vms: [
          { name: 'running', disks: [{ size: DISK, fill: 25, sr: 'A' }] },
          { name: 'halted', powerState: 'Halted', disks: [{ size: DISK, fill: 25, sr: 'A' }] },
        ],
      },
    });
    [srB] = await lab.xapi.call<string[]>('SR.get_by_name_label', 'B');
  });
  after(() => lab?.close());

  it('refuses a disk with CBT enabled, then moves it to a new VDI once CBT is off', async () => {
    const { vmRef, vbdRef, vdiRef, vdi } = await vmDisk(lab.xapi, 'running');
    const before = await lab.admin.digest(vdi['uuid'] as string);
    await lab.xapi.call('VDI.enable_cbt', vdiRef);
    const old = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'before move'));

    await assert.rejects(lab.xapi.call('VDI.pool_migrate', vdiRef, srB, {}), (e: { code?: string; params?: string[] }) => e.code === 'VDI_CBT_ENABLED' && e.params?.[0] === vdiRef);

    await lab.xapi.call('VDI.disable_cbt', vdiRef);
    const movedRef = await lab.xapi.callAsync<string>('VDI.pool_migrate', vdiRef, srB, {});
    const moved = await lab.xapi.call<XapiRecord>('VDI.get_record', movedRef);
    assert.notEqual(movedRef, vdiRef);
    assert.notEqual(moved['uuid'], vdi['uuid'], 'storage motion makes a new VDI');
    assert.equal(moved['SR'], srB);
    assert.equal(moved['cbt_enabled'], false);
    assert.equal(moved['name_label'], vdi['name_label']);
    assert.equal(moved['virtual_size'], vdi['virtual_size']);
    assert.deepEqual(moved['VBDs'], [vbdRef]);
    assert.equal(await lab.xapi.call('VBD.get_VDI', vbdRef), movedRef);
    await assert.rejects(lab.xapi.call('VDI.get_record', vdiRef), /HANDLE_INVALID/);
    assert.ok(!(await lab.xapi.call<string[]>('SR.get_VDIs', vdi['SR'])).includes(vdiRef));
    assert.ok((await lab.xapi.call<string[]>('SR.get_VDIs', srB)).includes(movedRef));
    assert.equal((await lab.admin.digest(moved['uuid'] as string)).sha256, before.sha256, 'same bytes');
    assert.equal(await lab.xapi.call('VDI.get_snapshot_of', old.vdiRef), movedRef);

    await lab.xapi.call('VDI.enable_cbt', movedRef);
    const fresh = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'after move'));
    await assert.rejects(lab.xapi.call('VDI.list_changed_blocks', old.vdiRef, fresh.vdiRef), (e: { code?: string }) => e.code === 'VDI_NO_CBT_METADATA');
    await lab.admin.write({ vdi: moved['uuid'] as string, pattern: 'clustered', percent: 5, seed: 3 });
    const next = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'second after move'));
    const bitmap = Buffer.from(await lab.xapi.call<string>('VDI.list_changed_blocks', fresh.vdiRef, next.vdiRef), 'base64');
    assert.ok(bitmap.some((byte) => byte !== 0), 'the new CBT log tracks writes after the move');
  });

  it('refuses a cbt_metadata VDI and a disk of a halted VM', async () => {
    const { vmRef, vdiRef } = await vmDisk(lab.xapi, 'halted');
    await assert.rejects(lab.xapi.call('VDI.pool_migrate', vdiRef, srB, {}), (e: { code?: string }) => e.code === 'VDI_NEEDS_VM_FOR_MIGRATE');
    await lab.xapi.call('VDI.enable_cbt', vdiRef);
    const snap = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'meta'));
    await lab.xapi.call('VDI.data_destroy', snap.vdiRef);
    await assert.rejects(lab.xapi.call('VDI.pool_migrate', snap.vdiRef, srB, {}), (e: { code?: string; params?: string[] }) => e.code === 'VDI_INCOMPATIBLE_TYPE' && e.params?.[1] === 'cbt_metadata');
  });
});
