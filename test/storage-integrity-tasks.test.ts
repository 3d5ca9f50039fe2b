// Damage named where it matters, at the storage level: verify lists every backup whose chain
// holds a damaged file (bad blocks, a damaged table, a chain digest that no longer folds);
// `deltachain vhd check` compares a remote's files with their `.sums` and names bad blocks; a
// merge refuses damaged input before changing anything; and merges leave every retained date's
// chain digest as it was — still the digest of what GetDisk returns; and a read a merge overtakes
// fails as retryable rather than as damage.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TaskStatus, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { Task } from '../shared/proto/gen/deltachain/tasks/v1/task.js';
import { serveBlocks, openBackupDisk } from '../agent/storage/serve-disk.js';
import { StorageChainChangedError } from '../agent/storage/errors.js';
import { StorageTaskRunner } from '../agent/storage/task-runner.js';
import { startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import { storageTask } from './support/storage-nats.js';
import { MIXED_CHAIN, digestOfBlocks, flipByte, foldedDate, newChain, readBlocks, readVhd, sha256, uploadChain } from './support/storage-chain-fixture.js';
import { runDeltachain } from './support/vhd-cli.js';

describe('verify, vhd check and merges against damage', () => {
  let h: StorageHarness;
  let runner: StorageTaskRunner;
  const chain = newChain(MIXED_CHAIN.length);
  const { vmUuid, ids } = chain;
  const folder = (): string => join(h.root, 'vms', vmUuid, 'disks', 'xvda');
  const path = (n: number): string => join(folder(), `${ids[n]}.vhd`);
  const rel = (n: number): string => `vms/${vmUuid}/disks/xvda/${ids[n]}.vhd`;

  before(async () => {
    h = await startStorageHarness();
    runner = new StorageTaskRunner(h.ctx, { publish: async () => undefined });
    await uploadChain(h.client, chain, MIXED_CHAIN);
  });
  after(async () => h.close());

  async function run(payload: NonNullable<Task['payload']>): Promise<TaskResult> {
    return runner.run(storageTask(h.ctx.remoteId, payload));
  }

  async function verify(n: number): Promise<NonNullable<Extract<TaskResult['output'], { $case: 'verify' }>>['value']> {
    const result = await run({ $case: 'verify', value: { vmUuid, backupId: ids[n]! } });
    assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
    assert.ok(result.output?.$case === 'verify');
    return result.output.value;
  }

  test('verify names the bad blocks and every backup depending on the damaged file; a chain without it is ok', async () => {
    const undo = await flipByte(path(1), 12);
    try {
      const newest = await verify(3);
      assert.equal(newest.ok, false);
      assert.deepEqual(newest.badBlocks, [{ diskKey: 'xvda', path: rel(1), index: 12, reason: 'checksum mismatch' }]);
      assert.deepEqual(newest.problems, [`${rel(1)}: 1 bad block: 12 (checksum mismatch)`]);
      const damaged = ids.slice(1).map((backupId) => ({ backupId, diskKey: 'xvda', path: rel(1), blocks: [12], reason: newest.problems[0] }));
      assert.deepEqual(newest.damaged, damaged);
      assert.deepEqual((await verify(1)).damaged, damaged, 'verifying the damaged date names the later ones too');
      const full = await verify(0);
      assert.equal(full.ok, true, JSON.stringify(full));
      assert.deepEqual(full.damaged, []);
    } finally {
      await undo();
    }
    const sound = await verify(3);
    assert.deepEqual([sound.ok, sound.problems, sound.damaged], [true, [], []]);
    assert.equal(sound.blocksChecked, MIXED_CHAIN.flat().length);
  });

  test('verify names a damaged table and a chain digest that no longer folds', async () => {
    const sumsPath = `${path(2)}.sums`;
    const original = await readFile(sumsPath);
    const flipped = Buffer.from(original);
    flipped[40]! ^= 1;
    await writeFile(sumsPath, flipped);
    try {
      const result = await verify(3);
      assert.equal(result.ok, false);
      assert.match(result.problems.join('\n'), new RegExp(`^${rel(2)}: checksums unreadable: .*trailing hash mismatch$`, 'm'));
      assert.deepEqual(result.damaged.map((d) => [d.backupId, d.path, d.blocks]), [[ids[2], rel(2), []], [ids[3], rel(2), []]]);
    } finally {
      await writeFile(sumsPath, original);
    }
    const metadataPath = join(h.root, 'vms', vmUuid, 'backups', `${ids[3]}.json`);
    const metadata = await readFile(metadataPath, 'utf8');
    const json = JSON.parse(metadata);
    json.disks[0].chainDigest = `sha256:${'0'.repeat(64)}`;
    await writeFile(metadataPath, JSON.stringify(json));
    try {
      const result = await verify(3);
      assert.equal(result.ok, false);
      assert.match(result.problems.join('\n'), new RegExp(`^${rel(3)}: the chain digest of disk xvda \\(sha256:[0-9a-f]{64}\\) differs from the one recorded at commit`, 'm'));
      assert.deepEqual(result.damaged.map((d) => [d.backupId, d.path]), [[ids[3], rel(3)]]);
    } finally {
      await writeFile(metadataPath, metadata);
    }
  });

  test('vhd check compares each chain file with its .sums, naming bad blocks; passes sound files; --no-sums checks the structure only', async () => {
    const undo = await flipByte(path(1), 12);
    try {
      const bad = await runDeltachain(['vhd', 'check', path(3)]);
      assert.equal(bad.code, 1, bad.stdout);
      assert.equal(bad.stderr, `${path(1)}: 1 bad block against ${ids[1]}.vhd.sums: 12 (checksum mismatch)\n`);
      const json = await runDeltachain(['vhd', 'check', '--json', path(1)]);
      assert.equal(json.code, 1);
      assert.deepEqual(JSON.parse(json.stdout).problem.badBlocks, [{ index: 12, reason: 'checksum mismatch' }]);
      const structure = await runDeltachain(['vhd', 'check', '--no-sums', path(3)]);
      assert.equal(structure.code, 0, structure.stderr);
      assert.match(structure.stdout, /ok \(4 disks in the chain, 12 blocks read, no checksums to compare\)/);
    } finally {
      await undo();
    }
    const good = await runDeltachain(['vhd', 'check', path(3)]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /ok \(4 disks in the chain, 12 blocks read, 4 of 4 checked against their \.sums\)/);
  });

  test('a merge refuses a damaged delta block, and a damaged parent block under a partly marked one, changing nothing', async () => {
    for (const [layer, block] of [[1, 12], [0, 3]] as const) {
      const before = { full: sha256(await readFile(path(0))), names: (await readdir(folder())).sort() };
      const undo = await flipByte(path(layer), block);
      try {
        const result = await run({ $case: 'merge', value: { vmUuid, backupId: ids[1]! } });
        assert.equal(result.status, TaskStatus.TASK_STATUS_FAILED);
        assert.deepEqual([result.error?.code, result.error?.side, result.error?.retryable], ['DATA_DAMAGED', 'data', false]);
        assert.match(result.error!.message, new RegExp(`^backup ${ids[1]} of VM ${vmUuid}, disk xvda: file ${rel(layer)} block ${block} does not match the checksum stored at commit`));
      } finally {
        await undo();
      }
      assert.equal(sha256(await readFile(path(0))), before.full, 'the full was changed');
      assert.deepEqual((await readdir(folder())).sort(), before.names, 'files were added or removed');
      assert.deepEqual((await h.client.listBackups(vmUuid)).map((b) => b.backupId), ids);
    }
  });

  test('merges keep every retained date\'s chain digest, still the digest of what GetDisk returns', async () => {
    const recorded = new Map((await h.client.listBackups(vmUuid)).map((b) => [b.backupId, Buffer.from(b.disks[0]!.chainDigest)]));
    for (const n of [1, 2]) {
      const result = await run({ $case: 'merge', value: { vmUuid, backupId: ids[n]! } });
      assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
      const listed = await h.client.listBackups(vmUuid);
      assert.deepEqual(listed.map((b) => b.backupId), ids.slice(n));
      for (const backup of listed) {
        const at = ids.indexOf(backup.backupId);
        const digest = Buffer.from(backup.disks[0]!.chainDigest);
        assert.ok(digest.equals(recorded.get(backup.backupId)!), `${backup.backupId}: chain digest changed by the merge`);
        assert.ok(digest.equals(digestOfBlocks(foldedDate(MIXED_CHAIN, at))));
        assert.ok((await readBlocks(h.client, vmUuid, backup.backupId)).digest.equals(digest), `BLOCKS of ${backup.backupId}`);
        assert.ok((await readVhd(h.client, vmUuid, backup.backupId)).digest.equals(digest), `VHD of ${backup.backupId}`);
      }
    }
    const after = await verify(3);
    assert.deepEqual([after.ok, after.problems], [true, []]);
  });

  test('a read that a merge overtakes fails as retryable (never as damage), and reads right again after it', async () => {
    const other = newChain(3);
    const model = [
      [...Array.from({ length: 8 }, (_, index) => ({ index, seed: 1 })), { index: 15, seed: 1 }],
      [{ index: 15, seed: 2, sectors: [0, 1024] as [number, number] }],
      [{ index: 15, seed: 3, sectors: [2048, 2560] as [number, number] }],
    ];
    await uploadChain(h.client, other, model);
    const request = { vmUuid: other.vmUuid, backupId: other.ids[2]!, diskKey: 'xvda' };
    const disk = await openBackupDisk(h.ctx, request);
    const parts = serveBlocks(disk, request);
    try {
      for (let part = await parts.next(); !(part.value?.kind === 'block' && part.value.block.index === 7); part = await parts.next());
      const merged = await run({ $case: 'merge', value: { vmUuid: other.vmUuid, backupId: other.ids[1]! } });
      assert.equal(merged.status, TaskStatus.TASK_STATUS_SUCCEEDED, merged.error?.message);
      // Block 15 is read through the merged-away delta into the full the merge rewrote under it.
      await assert.rejects(parts.next(), (e: unknown) => e instanceof StorageChainChangedError && e.retryable && /read the disk again/.test(e.message));
    } finally {
      await disk.chain.close();
    }
    const again = await readVhd(h.client, other.vmUuid, other.ids[2]!);
    assert.ok(again.digest.equals(digestOfBlocks(foldedDate(model, 2))));
  });

  test('a delta merged into a delta keeps checksums for every block it holds: verify and a later commit read it as sound', async () => {
    const other = newChain(3);
    const model = [
      Array.from({ length: 4 }, (_, index) => ({ index, seed: 1 })),
      [{ index: 0, seed: 2 }, { index: 5, seed: 2, sectors: [0, 1024] as [number, number] }],
      [{ index: 6, seed: 3 }],
    ];
    await uploadChain(h.client, other, model);
    const merged = await run({ $case: 'merge', value: { vmUuid: other.vmUuid, backupId: other.ids[2]! } });
    assert.equal(merged.status, TaskStatus.TASK_STATUS_SUCCEEDED, merged.error?.message);
    const result = await run({ $case: 'verify', value: { vmUuid: other.vmUuid, backupId: other.ids[2]! } });
    assert.ok(result.output?.$case === 'verify');
    assert.deepEqual([result.output.value.ok, result.output.value.problems], [true, []]);
    const again = await readVhd(h.client, other.vmUuid, other.ids[2]!);
    assert.ok(again.digest.equals(digestOfBlocks(foldedDate(model, 2))));
  });
});
