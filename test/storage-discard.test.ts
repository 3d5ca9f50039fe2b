// Nothing left behind on a remote, at the storage agent (real gRPC on loopback): DiscardBackup
// removes what uploads of an uncommitted backup left (disks, checksums, dead temporaries) but
// never a live upload's temporary or a committed backup, and is idempotent; what a storage agent
// removes before serving after a crash (remove-leftovers.ts); and a remote whose file system is
// full answers RESOURCE_EXHAUSTED naming the remote, with nothing left of the upload (a packed
// delta's too, the full under it still read whole).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { ChannelCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { GetDiskFormat, StorageClient, type OutgoingBlock } from '../shared/grpc/storage-client.js';
import { removeLeftovers } from '../agent/storage/remove-leftovers.js';
import { startStorageServer } from '../agent/storage/storage-server.js';
import { DEFAULT_UPLOAD_LIMITS } from '../agent/storage/upload-limits.js';
import { MiB, diskHeader, listTree, patternBlock, patternBlocks, records, startStorageHarness, testContext, type StorageHarness } from './support/storage-harness.js';
import { mountSmallFilesystem, type SmallFilesystem } from './support/small-filesystem.js';
import { extentSectors, outgoingBlocks } from './support/sparse-layers.js';

const SIZE = 32 * MiB;

async function refused(promise: Promise<unknown>, code: status, message: RegExp): Promise<ServiceError> {
  let caught: ServiceError | undefined;
  await promise.catch((error: ServiceError) => (caught = error));
  assert.ok(caught, 'the call was refused');
  assert.equal(caught.code, code, `${status[caught.code]}: ${caught.details}`);
  assert.match(caught.details, message);
  return caught;
}

describe('DiscardBackup and leftovers', () => {
  let h: StorageHarness;
  before(async () => (h = await startStorageHarness()));
  after(() => h?.close());

  async function upload(vm: string, backupId: string, diskKey: string, blocks = [0, 3]): Promise<void> {
    await h.client.putDisk(diskHeader({ vmUuid: vm, backupId, diskKey, virtualSize: SIZE }), patternBlocks(1, blocks));
  }

  test('removes the received disks, their checksums and dead temporaries of an uncommitted backup; again removes nothing', async () => {
    const vm = randomUUID();
    await upload(vm, '20261201T000000Z-kept', 'xvda');
    await h.client.commitBackup({ backupId: '20261201T000000Z-kept', vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
    const committed = await listTree(h.root);
    await upload(vm, '20261202T000000Z-lost', 'xvda');
    await upload(vm, '20261202T000000Z-lost', 'xvdb');
    const disks = join(h.root, 'vms', vm, 'disks');
    await writeFile(join(disks, 'xvdb', '.20261202T000000Z-lost.vhd.0badc0de.tmp'), 'a killed upload');
    await writeFile(join(disks, 'xvdb', '.20261202T000000Z-lost.vhd.sums.0badc0de.tmp'), 'a killed upload');
    await writeFile(join(h.root, 'vms', vm, 'backups', '.20261202T000000Z-lost.json.0badc0de.tmp'), '{');

    const removed = await h.client.discardBackup(vm, '20261202T000000Z-lost');
    assert.deepEqual([...removed].sort(), [
      `vms/${vm}/backups/.20261202T000000Z-lost.json.0badc0de.tmp`,
      `vms/${vm}/disks/xvda/20261202T000000Z-lost.vhd`,
      `vms/${vm}/disks/xvda/20261202T000000Z-lost.vhd.sums`,
      `vms/${vm}/disks/xvdb/.20261202T000000Z-lost.vhd.0badc0de.tmp`,
      `vms/${vm}/disks/xvdb/.20261202T000000Z-lost.vhd.sums.0badc0de.tmp`,
      `vms/${vm}/disks/xvdb/20261202T000000Z-lost.vhd`,
      `vms/${vm}/disks/xvdb/20261202T000000Z-lost.vhd.sums`,
    ]);
    assert.deepEqual(await listTree(h.root), committed, 'only the committed backup remains');
    assert.deepEqual(await h.client.discardBackup(vm, '20261202T000000Z-lost'), [], 'idempotent');
    assert.deepEqual(await h.client.discardBackup(randomUUID(), '20261202T000000Z-none'), [], 'a VM the remote never saw');
  });

  test('refuses a committed backup and a bad id, changing nothing', async () => {
    const vm = randomUUID();
    await upload(vm, '20261203T000000Z-done', 'xvda');
    await h.client.commitBackup({ backupId: '20261203T000000Z-done', vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
    const before = await listTree(h.root);
    await refused(h.client.discardBackup(vm, '20261203T000000Z-done'), status.FAILED_PRECONDITION, /is committed on remote test-remote; a committed backup is never discarded/);
    await refused(h.client.discardBackup(vm, '../x'), status.INVALID_ARGUMENT, /backup id/);
    await refused(h.client.discardBackup('not-a-uuid', '20261203T000000Z-done'), status.INVALID_ARGUMENT, /VM uuid/);
    assert.deepEqual(await listTree(h.root), before);
  });

  test("keeps a live upload's temporary; the upload then completes", async () => {
    const vm = randomUUID();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    async function* blocks(): AsyncGenerator<OutgoingBlock> {
      yield { index: 0, data: patternBlock(2, 0) };
      await held;
      yield { index: 1, data: patternBlock(2, 1) };
    }
    const uploading = h.client.putDisk(diskHeader({ vmUuid: vm, backupId: '20261204T000000Z-live', virtualSize: SIZE }), blocks());
    const folder = join(h.root, 'vms', vm, 'disks', 'xvda');
    let temps: string[] = [];
    for (let i = 0; i < 100 && temps.length === 0; i++) {
      temps = (await readdir(folder).catch(() => [])).filter((n) => n.endsWith('.tmp'));
      if (temps.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(temps.length, 1, 'the upload has its temporary');
    assert.deepEqual(await h.client.discardBackup(vm, '20261204T000000Z-live'), [], 'a live upload is left alone');
    release();
    const response = await uploading;
    assert.equal(response.blockCount, 2);
    assert.deepEqual(await readdir(folder), ['20261204T000000Z-live.vhd', '20261204T000000Z-live.vhd.sums']);
  });

  test('at start, every temporary, uncommitted disk, checksums without disk and stale merge lock go; committed data and unreadable VMs stay', async () => {
    const vm = randomUUID();
    await upload(vm, '20261205T000000Z-a', 'xvda');
    await h.client.commitBackup({ backupId: '20261205T000000Z-a', vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
    const committed = (await listTree(h.root)).filter((p) => p.includes(vm));
    await upload(vm, '20261206T000000Z-b', 'xvda');
    const folder = join(h.root, 'vms', vm, 'disks', 'xvda');
    await writeFile(join(folder, '.20261207T000000Z-c.vhd.12345678.tmp'), 'partial');
    await writeFile(join(folder, '20261101T000000Z-old.vhd.sums'), 'checksums without their disk');
    await writeFile(join(folder, '.20261101T000000Z-old.vhd.merge.lock'), '{}');
    await writeFile(join(h.root, 'vms', vm, 'backups', '.20261207T000000Z-c.json.12345678.tmp'), '{');
    // A VM whose metadata cannot be read: its uncommitted-looking disk may be what that backup needs.
    const odd = randomUUID();
    await upload(odd, '20261205T000000Z-x', 'xvda');
    await mkdir(join(h.root, 'vms', odd, 'backups'), { recursive: true });
    await writeFile(join(h.root, 'vms', odd, 'backups', '20261205T000000Z-x.json'), 'not json');
    await writeFile(join(h.root, 'vms', odd, 'disks', 'xvda', '.20261205T000000Z-y.vhd.abcdef01.tmp'), 'partial');
    const oddBefore = (await listTree(h.root)).filter((p) => p.includes(odd) && !p.endsWith('.tmp'));

    const removed = await removeLeftovers(h.ctx);
    assert.deepEqual((await listTree(h.root)).filter((p) => p.includes(vm)), committed, 'only the committed backup remains');
    assert.deepEqual((await listTree(h.root)).filter((p) => p.includes(odd)), oddBefore, 'the unreadable VM keeps its disks, loses its temporaries');
    assert.equal(removed.filter((p) => p.includes(vm) || p.includes(odd)).length, 7, removed.join('\n'));
    assert.deepEqual(await removeLeftovers(h.ctx), [], 'nothing left the second time');
  });
});

describe('a full remote', () => {
  /**
   * Runs `use` against a storage server whose remote is a 6 MiB file system of its own, with no
   * free-space floor: the file system itself runs out (the floor is test/security-bounds.test.ts's).
   */
  const REMOTE_FULL = /^remote small-nas is full \(\d+ bytes free of \d+ at .*\): PutDisk could not write; free space on the remote/;

  async function onSmallRemote(t: TestContext, use: (fs: SmallFilesystem, client: StorageClient) => Promise<void>): Promise<void> {
    const fs = await mountSmallFilesystem(6 * MiB);
    if ('skip' in fs) return t.skip(fs.skip);
    const ctx = { ...testContext(fs.path, 'small-nas'), limits: { ...DEFAULT_UPLOAD_LIMITS, freeSpaceFloorBytes: 0 } };
    const server = await startStorageServer(ctx, { host: '127.0.0.1', port: 0 }, { insecure: true });
    const client = new StorageClient(server.address, ChannelCredentials.createInsecure());
    try {
      await ctx.layout.ensure();
      await use(fs, client);
    } finally {
      client.close();
      await server.close();
      await fs.unmount();
    }
  }

  test('PutDisk answers RESOURCE_EXHAUSTED naming the remote and its free space; nothing of the upload remains', async (t) => {
    await onSmallRemote(t, async (fs, client) => {
      const vm = randomUUID();
      const error = await refused(
        client.putDisk(diskHeader({ vmUuid: vm, backupId: '20261208T000000Z-big', virtualSize: SIZE }), patternBlocks(3, [0, 1, 2, 3, 4, 5])),
        status.RESOURCE_EXHAUSTED,
        REMOTE_FULL,
      );
      assert.deepEqual(error.metadata.get('deltachain-error-code'), ['REMOTE_FULL']);
      assert.deepEqual((await listTree(fs.path)).filter((p) => p.includes(vm)), [], 'the temporary was removed');
      assert.ok((await stat(fs.path)).isDirectory());
    });
  });

  test('a packed delta that runs out of room is refused as REMOTE_FULL; nothing of it remains and the full under it reads whole', async (t) => {
    await onSmallRemote(t, async (fs, client) => {
      const vm = randomUUID();
      const fullUuid = randomUUID();
      const fullId = '20261209T000000Z-full';
      await client.putDisk(diskHeader({ vmUuid: vm, backupId: fullId, footerUuid: fullUuid, virtualSize: SIZE }), patternBlocks(4, [0, 1]));
      await client.commitBackup({ backupId: fullId, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
      const committed = (await listTree(fs.path)).filter((p) => p.includes(vm));
      // Four 64 KiB extents in each of 16 blocks: 4 MiB of marked data, more than the 2 MiB left.
      const delta = { seed: 5, blocks: Array.from({ length: 16 }, (_, index) => ({ index, sectors: extentSectors(0, 9, 17, 30) })) };
      const error = await refused(
        client.putDisk(diskHeader({ vmUuid: vm, backupId: '20261210T000000Z-delta', parentFooterUuid: fullUuid, virtualSize: SIZE }), outgoingBlocks(delta, 'packed')),
        status.RESOURCE_EXHAUSTED,
        REMOTE_FULL,
      );
      assert.deepEqual(error.metadata.get('deltachain-error-code'), ['REMOTE_FULL']);
      assert.deepEqual((await listTree(fs.path)).filter((p) => p.includes(vm)), committed, 'only the committed full remains');
      const seen: number[] = [];
      for await (const part of client.getDiskParts(vm, fullId, 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
        if (part.$case !== 'block') continue;
        assert.ok(Buffer.from(part.value.data).equals(patternBlock(4, part.value.index)), `block ${part.value.index} of the full`);
        seen.push(part.value.index);
      }
      assert.deepEqual(seen, [0, 1]);
    });
  });
});
