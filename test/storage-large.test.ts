// A 1 GiB disk through the real gRPC data plane on loopback: every one of its 512 blocks sent
// (1 GiB of real data), committed, checked with `deltachain vhd check`, then a delta on top; the delta's date is read back through GetDisk
// block by block, byte-identical (compared against regenerated content, so the test never holds
// the disk in memory). npm run bench:storage sends 4 GiB in full.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetDiskFormat } from '../shared/grpc/storage-client.js';
import { runDeltachain } from './support/vhd-cli.js';
import { BLOCK, MiB, diskHeader, patternBlock, patternBlocks, records, startStorageHarness, type StorageHarness } from './support/storage-harness.js';

const GiB = 1024 * MiB;
const COUNT = GiB / BLOCK;
const FULL_BLOCKS = Array.from({ length: COUNT }, (_, i) => i);

describe('1 GiB disk over gRPC', { timeout: 15 * 60_000 }, () => {
  let h: StorageHarness;
  const vm = randomUUID();
  const full = { id: '20261126T100000Z-big', uuid: randomUUID() };
  const delta = { id: '20261127T100000Z-big', uuid: randomUUID(), blocks: [0, 17, 300, 301, COUNT - 1] };

  before(async () => {
    h = await startStorageHarness();
  });
  after(async () => h.close());

  test('upload, commit and check a 1 GiB full and a delta', async () => {
    const put = await h.client.putDisk(diskHeader({ vmUuid: vm, backupId: full.id, footerUuid: full.uuid, virtualSize: GiB }), patternBlocks(1, FULL_BLOCKS));
    assert.equal(put.blockCount, FULL_BLOCKS.length);
    await h.client.commitBackup({ backupId: full.id, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
    const header = diskHeader({ vmUuid: vm, backupId: delta.id, footerUuid: delta.uuid, parentFooterUuid: full.uuid, virtualSize: GiB });
    await h.client.putDisk(header, patternBlocks(2, delta.blocks));
    await h.client.commitBackup({ backupId: delta.id, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
    const folder = join(h.root, 'vms', vm, 'disks', 'xvda');
    // `vhd check` validates the delta and its whole chain (the full included).
    const check = await runDeltachain(['vhd', 'check', join(folder, `${delta.id}.vhd`)], { timeoutMs: 120_000 });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  test('GetDisk returns the delta date byte-identical', async () => {
    const want = new Map<number, number>(FULL_BLOCKS.map((i) => [i, 1]));
    for (const i of delta.blocks) want.set(i, 2);
    const expected = [...want.keys()].sort((a, b) => a - b);
    let next = 0;
    for await (const part of h.client.getDiskParts(vm, delta.id, 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
      if (part.$case === 'header') assert.equal(part.value.virtualSize, GiB);
      if (part.$case !== 'block') continue;
      const { index, data } = part.value;
      assert.equal(index, expected[next++]);
      if (!Buffer.from(data).equals(patternBlock(want.get(index)!, index))) assert.fail(`block ${index} differs`);
    }
    assert.equal(next, expected.length);
  });
});
