// Merge recovery at the storage level, with failures injected at the two places the storage
// agent adds to the VHD merge: inside the block copy (the VHD module's state file) and after the
// VHD merge but before the checksum table is finished. In both, `recoverMerges` (what the agent
// runs at start) leaves checksums, metadata and every retained date right, and no stray file.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { mergeVhd } from '../shared/vhd/merge.js';
import { readBackupMetadata } from '../agent/storage/backup-metadata.js';
import { runMergeTask } from '../agent/storage/tasks/merge-task.js';
import { recoverMerges } from '../agent/storage/tasks/recover-merges.js';
import { runVerifyTask } from '../agent/storage/tasks/verify-task.js';
import { runScanTask } from '../agent/storage/tasks/scan-task.js';
import { GetDiskFormat } from '../shared/grpc/storage-client.js';
import { MiB, diskHeader, patternBlock, records, startStorageHarness, type StorageHarness } from './support/storage-harness.js';

const SIZE = 32 * MiB;

describe('merge recovery with injected failures', () => {
  let h: StorageHarness;
  let vm: string;
  const ids = ['20261126T100000Z-f', '20261127T100000Z-d1', '20261128T100000Z-d2'];
  const layers = [new Map([[0, 1], [1, 1], [2, 1], [9, 1]]), new Map([[1, 2], [2, 2], [3, 2], [4, 2], [15, 2]]), new Map([[2, 3]])];
  const want = (n: number): Map<number, number> => {
    const out = new Map<number, number>();
    for (let i = 0; i <= n; i++) for (const [b, s] of layers[i]!) out.set(b, s);
    return out;
  };
  const folder = (): string => join(h.root, 'vms', vm, 'disks', 'xvda');

  beforeEach(async () => {
    h = await startStorageHarness();
    vm = randomUUID();
    const uuids = ids.map(() => randomUUID());
    for (let n = 0; n < 3; n++) {
      const header = diskHeader({ vmUuid: vm, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: SIZE });
      await h.client.putDisk(header, [...layers[n]!].map(([index, seed]) => ({ index, data: patternBlock(seed, index) })));
      await h.client.commitBackup({ backupId: ids[n]!, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
    }
  });
  afterEach(async () => h.close());

  async function assertRecovered(): Promise<void> {
    const names = await readdir(folder());
    assert.ok(!names.some((n) => n.includes('.merge.') || n.endsWith('.merged')), `left over: ${names.join(', ')}`);
    const d1 = await readBackupMetadata(h.ctx.layout.metadataPath(vm, ids[1]!));
    assert.equal(d1?.disks[0]?.chainPosition, 0);
    assert.equal(d1?.disks[0]?.parentFile, null);
    assert.equal((await readBackupMetadata(h.ctx.layout.metadataPath(vm, ids[2]!)))?.disks[0]?.chainPosition, 1);
    for (const n of [1, 2]) {
      const verify = await runVerifyTask(h.ctx, { vmUuid: vm, backupId: ids[n]! });
      assert.ok(verify.ok, JSON.stringify(verify));
      const expected = want(n);
      const seen: number[] = [];
      for await (const part of h.client.getDiskParts(vm, ids[n]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
        if (part.$case !== 'block') continue;
        seen.push(part.value.index);
        assert.ok(Buffer.from(part.value.data).equals(patternBlock(expected.get(part.value.index)!, part.value.index)));
      }
      assert.deepEqual(seen, [...expected.keys()].sort((a, b) => a - b));
    }
    // Recovery also removed the merged parent's checksums: nothing is left for a scan.
    const scan = await runScanTask(h.ctx, { removeGarbage: false, graceSeconds: 3600 });
    assert.deepEqual(scan.garbage, [], 'no stray file after recovery');
    assert.deepEqual((await readdir(folder())).sort(), [`${ids[1]}.vhd`, `${ids[1]}.vhd.sums`, `${ids[2]}.vhd`, `${ids[2]}.vhd.sums`]);
  }

  test('a failure inside the block copy is finished by recovery', async () => {
    await assert.rejects(runMergeTask(h.ctx, { vmUuid: vm, backupId: ids[1]! }, { failAfterBlocks: 2, checkpointBlocks: 1 }), /injected failure/);
    assert.ok((await readdir(folder())).includes(`.${ids[0]}.vhd.merge.json`));
    const recovered = await recoverMerges(h.ctx);
    assert.deepEqual(recovered.resumed, [`vms/${vm}/disks/xvda/${ids[1]}.vhd`]);
    await assertRecovered();
  });

  test('a crash after the VHD merge, before the checksums are finished, is finished by recovery', async () => {
    // What runMergeTask does up to the VHD merge, then "dies" before finishing the checksums.
    await assert.rejects(runMergeTask(h.ctx, { vmUuid: vm, backupId: ids[1]! }, { failAfterBlocks: 0 }), /injected failure/);
    await mergeVhd(join(folder(), `${ids[1]}.vhd`));
    assert.ok((await readdir(folder())).includes(`.${ids[1]}.vhd.sums.merged`));
    await recoverMerges(h.ctx);
    await assertRecovered();
  });

  test('a crash after the checksums are finished, before the metadata is rewritten, is finished by recovery', async () => {
    // The merge completes; then the metadata of the retained backups is put back as it was before
    // step 5, which is what a crash between steps 4 and 5 leaves: no state file, no .merged table.
    const before = await Promise.all([1, 2].map((n) => readFile(h.ctx.layout.metadataPath(vm, ids[n]!))));
    await runMergeTask(h.ctx, { vmUuid: vm, backupId: ids[1]! });
    for (const n of [1, 2]) await writeFile(h.ctx.layout.metadataPath(vm, ids[n]!), before[n - 1]!);
    assert.notEqual((await readBackupMetadata(h.ctx.layout.metadataPath(vm, ids[1]!)))?.disks[0]?.chainPosition, 0, 'the metadata is stale');
    const recovered = await recoverMerges(h.ctx);
    assert.deepEqual(recovered.resumed, []);
    await assertRecovered();
  });
});
