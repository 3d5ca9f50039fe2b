// Snapshot data on the lab's SRs, seen through XAPI records with the real xen-api client
// (VDI.physical_utilisation of snapshots, SR.physical_utilisation) and through the lab's report
// (`GET /lab/state`, `deltachain-lab snapshot-data --json`): a snapshot of a disk with data holds
// bytes; data_destroy and destroy bring them back to zero and free what only the snapshot held.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { XapiRecord } from 'xen-api';
import { runLabCli } from '../../../test/support/lab-cli.js';
import { MiB, snapshotDisk, startTestLab, vmDisk, type TestLab } from '../../../test/support/lab-harness.js';

const DISK = 32 * MiB;
const BLOCK = 2 * MiB;

describe('lab pool: snapshot data per SR', () => {
  let lab: TestLab;
  let srRef: string;

  before(async () => {
    lab = await startTestLab({ fleet: { srs: [{ name: 'A' }, { name: 'B' }], vms: [{ name: 'db', disks: [{ size: DISK, fill: 25, sr: 'A' }] }] } });
    [srRef] = await lab.xapi.call<string[]>('SR.get_by_name_label', 'A');
  });
  after(() => lab?.close());

  async function report(): Promise<{ a: number; b: number; total: number }> {
    const { srs, snapshotDataBytes } = await lab.admin.state();
    return { a: srs.find((s) => s.name === 'A')!.snapshotDataBytes, b: srs.find((s) => s.name === 'B')!.snapshotDataBytes, total: snapshotDataBytes };
  }

  it('counts a snapshot with data, and nothing once it is data_destroyed or destroyed', async () => {
    const { vmRef, vdiRef, vdi } = await vmDisk(lab.xapi, 'db');
    const diskBytes = vdi['physical_utilisation'] as number;
    assert.ok(diskBytes > 0 && diskBytes % BLOCK === 0, 'the filled disk reports its allocated blocks');
    const srBefore = await lab.xapi.call<number>('SR.get_physical_utilisation', srRef);
    assert.equal(srBefore, diskBytes, 'SR.physical_utilisation is the blocks its store holds');
    assert.deepEqual(await report(), { a: 0, b: 0, total: 0 });

    await lab.xapi.call('VDI.enable_cbt', vdiRef);
    const first = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'one'));
    assert.equal(first.vdi['physical_utilisation'], diskBytes, 'a snapshot reports the data it holds');
    assert.equal(await lab.xapi.call('SR.get_physical_utilisation', srRef), srBefore, 'a snapshot shares its blocks');
    assert.deepEqual(await report(), { a: diskBytes, b: 0, total: diskBytes });

    const cli = await runLabCli(['snapshot-data', '--url', lab.pool.urlWithCredentials, '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const printed = JSON.parse(cli.stdout) as { srs: { name: string; snapshotDataBytes: number }[]; snapshotDataBytes: number };
    assert.equal(printed.snapshotDataBytes, diskBytes);
    assert.equal(printed.srs.find((s) => s.name === 'A')!.snapshotDataBytes, diskBytes);

    // The disk is rewritten: the snapshot alone now holds the old blocks, the SR grows.
    const written = await lab.admin.write({ vdi: vdi['uuid'] as string, pattern: 'clustered', percent: 10, seed: 5 });
    const srWritten = await lab.xapi.call<number>('SR.get_physical_utilisation', srRef);
    assert.ok(srWritten > srBefore, 'copy-on-write blocks are counted on the SR');
    assert.ok(written.blocks > 0);

    await lab.xapi.call('VDI.data_destroy', first.vdiRef);
    const destroyed = await lab.xapi.call<XapiRecord>('VDI.get_record', first.vdiRef);
    assert.equal(destroyed['type'], 'cbt_metadata');
    assert.equal(destroyed['physical_utilisation'], 0);
    assert.deepEqual(await report(), { a: 0, b: 0, total: 0 });
    const diskNow = await lab.xapi.call<number>('VDI.get_physical_utilisation', vdiRef);
    assert.equal(await lab.xapi.call('SR.get_physical_utilisation', srRef), diskNow, 'blocks only the snapshot held are freed');

    const second = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'two'));
    assert.equal((await report()).total, diskNow);
    await lab.xapi.call('VDI.destroy', second.vdiRef);
    assert.deepEqual(await report(), { a: 0, b: 0, total: 0 });
    assert.equal(await lab.xapi.call('SR.get_physical_utilisation', srRef), diskNow);
  });
});
