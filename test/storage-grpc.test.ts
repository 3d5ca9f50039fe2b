// The storage agent's data plane over real gRPC on loopback: a full and two deltas uploaded,
// committed, and read back through GetDisk (blocks and VHD stream) byte-identical; committed
// files pass `deltachain vhd check` and read through qemu-img and libvhdi; bad requests are each
// refused with a clear status and leave the remote exactly as it was.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, readdir, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { DiskDigest, ruleChecksum } from '../shared/grpc/disk-checksum.js';
import { ChecksumRule } from '../shared/proto/gen/deltachain/storage/v1/disk.js';
import { GetDiskFormat } from '../shared/grpc/storage-client.js';
import { libvhdiChainToRaw, qemuVhdToRaw, assertSameBytes } from './support/vhd-oracles.js';
import { runDeltachain } from './support/vhd-cli.js';
import { BLOCK, MiB, diskHeader, listTree, patternBlock, patternBlocks, records, startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import { rawPutDisk } from './support/storage-raw-client.js';
import { restoreBufferPool } from '../agent/storage/serve-disk.js';

const SIZE = 32 * MiB;
const FULL = new Map([[0, 1], [1, 1], [5, 1], [15, 1]]);
const DELTA1 = new Map([[1, 2], [7, 2]]);
const DELTA2 = new Map([[5, 3]]);

function expected(...layers: Map<number, number>[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const layer of layers) for (const [i, seed] of layer) out.set(i, seed);
  return out;
}

async function writeExpectedRaw(path: string, blocks: Map<number, number>): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(SIZE);
    for (const [index, seed] of blocks) await handle.write(patternBlock(seed, index), 0, BLOCK, index * BLOCK);
  } finally {
    await handle.close();
  }
}

describe('storage agent gRPC data plane', () => {
  let h: StorageHarness;
  const vm = randomUUID();
  const uuids = [randomUUID(), randomUUID(), randomUUID()];
  const ids = ['20261126T100000Z-full', '20261127T100000Z-d1', '20261128T100000Z-d2'];

  async function upload(n: number, layer: Map<number, number>): Promise<void> {
    const header = diskHeader({ vmUuid: vm, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: SIZE });
    const blocks = [...layer.keys()].sort((a, b) => a - b);
    const put = await h.client.putDisk(header, (async function* () {
      for (const i of blocks) yield { index: i, data: patternBlock(layer.get(i)!, i) };
    })());
    assert.equal(put.blockCount, blocks.length);
    assert.equal(put.path, `vms/${vm}/disks/xvda/${ids[n]}.vhd`);
    const commit = await h.client.commitBackup({
      backupId: ids[n]!, vmUuid: vm, timestampMs: Date.parse('2026-11-26T10:00:00Z') + n * 86_400_000, diskKeys: ['xvda'],
      recordsJson: records(vm), policyJson: JSON.stringify({ id: 'nightly' }),
      diskSources: [{ diskKey: 'xvda', vdiUuid: randomUUID(), snapshotVdiUuid: uuids[n]! }],
    });
    assert.equal(commit.alreadyCommitted, false);
    assert.equal(commit.backup?.disks[0]?.chainPosition, n);
  }

  before(async () => {
    h = await startStorageHarness();
    await upload(0, FULL);
    await upload(1, DELTA1);
    await upload(2, DELTA2);
  });
  after(async () => h.close());

  test('GetDisk blocks returns the newest data of every allocated block, with a matching digest', async () => {
    const want = expected(FULL, DELTA1, DELTA2);
    const seen: number[] = [];
    const digest = new DiskDigest();
    let trailer;
    for await (const part of h.client.getDiskParts(vm, ids[2]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
      if (part.$case === 'header') {
        assert.equal(part.value.virtualSize, SIZE);
        assert.equal(part.value.checksumRule, ChecksumRule.CHECKSUM_RULE_PIECES_BLAKE3, 'the rule of the chain digest the commit took');
      }
      if (part.$case === 'block') {
        const { index, data, bitmap, checksum } = part.value;
        assert.ok(Buffer.from(data).equals(patternBlock(want.get(index)!, index)), `block ${index} content`);
        assert.ok(ruleChecksum('blake3', bitmap, data, data.length).equals(Buffer.from(checksum)));
        digest.add(index, checksum);
        seen.push(index);
      }
      if (part.$case === 'trailer') trailer = part.value;
    }
    assert.deepEqual(seen, [...want.keys()].sort((a, b) => a - b));
    assert.ok(trailer && Buffer.from(trailer.digest).equals(digest.digest()));
  });

  test('GetDisk VHD stream reads through qemu-img byte-identical to the backup date', async () => {
    const vhd = join(h.root, 'restore-d1.vhd');
    const raw = join(h.root, 'restore-d1.raw');
    const wantRaw = join(h.root, 'want-d1.raw');
    let length = -1;
    const chunks = (async function* () {
      for await (const part of h.client.getDiskParts(vm, ids[1]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD)) {
        if (part.$case === 'vhdStart') length = part.value.length;
        if (part.$case === 'vhdChunk') yield Buffer.from(part.value);
      }
    })();
    await pipeline(Readable.from(chunks), createWriteStream(vhd));
    await qemuVhdToRaw(vhd, raw);
    await writeExpectedRaw(wantRaw, expected(FULL, DELTA1));
    await assertSameBytes(raw, wantRaw, 'qemu-img read of GetDisk VHD');
    assert.ok(length > 0);
    await rm(vhd);
    await rm(raw);
    await rm(wantRaw);
  });

  test('GetDisk VHD stream: the same bytes with 1, the default and 16 blocks read ahead (storage.restoreReadAheadBlocks)', async () => {
    const streamDigest = async (): Promise<string> => {
      const hash = createHash('sha256');
      for await (const part of h.client.getDiskParts(vm, ids[2]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD)) if (part.$case === 'vhdChunk') hash.update(part.value);
      return hash.digest('hex');
    };
    const byDefault = await streamDigest();
    try {
      for (const readAhead of [1, 16]) {
        h.ctx.restoreReadAhead = readAhead;
        assert.equal(await streamDigest(), byDefault, `${readAhead} blocks ahead`);
      }
    } finally {
      delete h.ctx.restoreReadAhead;
    }
  });

  test("GetDisk VHD downloads one after another read through the same buffers (the agent's pool), with the same bytes", async () => {
    const streamDigest = async (): Promise<string> => {
      const hash = createHash('sha256');
      for await (const part of h.client.getDiskParts(vm, ids[2]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD)) if (part.$case === 'vhdChunk') hash.update(part.value);
      return hash.digest('hex');
    };
    const unpooled = await streamDigest();
    const pool = restoreBufferPool(4);
    const memories = new Set<ArrayBufferLike>();
    const take = pool.take.bind(pool);
    pool.take = (size: number) => {
      const buffer = take(size);
      memories.add(buffer.buffer);
      return buffer;
    };
    h.ctx.restoreBuffers = pool;
    h.ctx.restoreReadAhead = 4;
    try {
      assert.equal(await streamDigest(), unpooled, 'first pooled download');
      const made = memories.size;
      assert.ok(made > 0 && pool.idle === made, `every buffer of the download given back (${pool.idle} of ${made})`);
      for (let i = 0; i < 3; i++) assert.equal(await streamDigest(), unpooled, `pooled download ${i + 2}`);
      assert.equal(memories.size, made, 'the later downloads made no buffer of their own');
    } finally {
      delete h.ctx.restoreBuffers;
      delete h.ctx.restoreReadAhead;
    }
  });

  test('a pooled GetDisk VHD download cancelled mid-stream gives back none of the buffers still in its transport: the next downloads stream the same bytes', async () => {
    const streamDigest = async (): Promise<string> => {
      const hash = createHash('sha256');
      for await (const part of h.client.getDiskParts(vm, ids[2]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD)) if (part.$case === 'vhdChunk') hash.update(part.value);
      return hash.digest('hex');
    };
    const unpooled = await streamDigest();
    const pool = restoreBufferPool(4);
    h.ctx.restoreBuffers = pool;
    h.ctx.restoreReadAhead = 4;
    try {
      for (let round = 0; round < 3; round++) {
        const call = h.client.getDisk(vm, ids[2]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD);
        call.on('error', () => undefined);
        // The second message is the first block's: blocks are in the transport and read ahead.
        await new Promise<void>((resolve) => {
          let seen = 0;
          call.on('data', () => ++seen === 2 && resolve());
        });
        call.cancel();
        assert.ok(pool.idle <= pool.maxIdle);
        assert.equal(await streamDigest(), unpooled, `a download after cancelled download ${round + 1}`);
      }
    } finally {
      delete h.ctx.restoreBuffers;
      delete h.ctx.restoreReadAhead;
    }
  });

  test('committed files pass `deltachain vhd check`, the full reads through qemu-img and the chain through libvhdi', async () => {
    const folder = join(h.root, 'vms', vm, 'disks', 'xvda');
    const files = ids.map((id) => join(folder, `${id}.vhd`));
    // `vhd check` validates the file and its whole chain: the newest disk covers all three.
    const result = await runDeltachain(['vhd', 'check', '--json', files[2]!]);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    const fullRaw = join(h.root, 'qemu-full.raw');
    const wantFull = join(h.root, 'want-full.raw');
    await qemuVhdToRaw(files[0]!, fullRaw);
    await writeExpectedRaw(wantFull, FULL);
    await assertSameBytes(fullRaw, wantFull, 'qemu-img read of the stored full');
    await rm(fullRaw);
    await rm(wantFull);
    const raw = join(h.root, 'libvhdi.raw');
    const wantRaw = join(h.root, 'want-d2.raw');
    assert.equal(await libvhdiChainToRaw([...files].reverse(), raw), SIZE);
    await writeExpectedRaw(wantRaw, expected(FULL, DELTA1, DELTA2));
    await assertSameBytes(raw, wantRaw, 'libvhdi read of the stored chain');
    await rm(raw);
    await rm(wantRaw);
  });

  test('HasBase finds only a committed chain tail; ListBackups and Stat describe the remote', async () => {
    assert.deepEqual(await h.client.hasBase(vm, uuids[2]!), { found: true, backupId: ids[2], diskKey: 'xvda' });
    assert.equal((await h.client.hasBase(vm, uuids[0]!)).found, false);
    assert.equal((await h.client.hasBase(vm, randomUUID())).found, false);
    const list = await h.client.listBackups(vm);
    assert.deepEqual(list.map((b) => b.backupId), ids);
    const stat = await h.client.stat();
    assert.equal(stat.backupCount, 3);
    assert.equal(stat.vmCount, 1);
    assert.ok(stat.freeBytes > 0 && stat.totalBytes >= stat.freeBytes);
  });

  test('a client that stops reading GetDisk midway leaves no file open on the server', async () => {
    const openUnderRoot = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target.startsWith(h.root)) out.push(target);
      }
      return out;
    };
    const call = h.client.getDisk(vm, ids[2]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD);
    await new Promise<void>((resolve) => call.once('data', () => resolve()));
    call.cancel();
    call.on('error', () => undefined);
    let left = await openUnderRoot();
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await openUnderRoot();
    }
    assert.deepEqual(left, []);
  });

  test('CommitBackup is idempotent for the same backup id', async () => {
    const again = await h.client.commitBackup({
      backupId: ids[0]!, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: '{}', policyJson: '', diskSources: [],
    });
    assert.equal(again.alreadyCommitted, true);
  });

  describe('refusals leave the remote unchanged', () => {
    async function refused(run: () => Promise<unknown>, code: status, pattern: RegExp): Promise<void> {
      const before = await listTree(h.root);
      await assert.rejects(run, (error: ServiceError) => {
        assert.equal(error.code, code, `status ${error.code}: ${error.details}`);
        assert.match(error.details, pattern);
        return true;
      });
      assert.deepEqual(await listTree(h.root), before, 'files changed');
    }

    test('a bad block checksum', async () => {
      const header = diskHeader({ vmUuid: vm, backupId: 'bad-checksum', parentFooterUuid: uuids[2]!, virtualSize: SIZE });
      const data = patternBlock(9, 3);
      const checksum = ruleChecksum('blake3', Buffer.alloc(512, 0xff), data, data.length);
      checksum[0]! ^= 1;
      await refused(() => rawPutDisk(h.server.address, header, [{ index: 3, bitmap: new Uint8Array(0), data, checksum, packed: false }]), status.DATA_LOSS, /block 3: checksum mismatch/);
    });

    test('an out-of-range block index', async () => {
      const header = diskHeader({ vmUuid: vm, backupId: 'out-of-range', parentFooterUuid: uuids[2]!, virtualSize: SIZE });
      await refused(() => h.client.putDisk(header, patternBlocks(4, [2, 16])), status.INVALID_ARGUMENT, /block 16: index out of range 0\.\.15/);
    });

    test('path-traversal ids', async () => {
      await refused(() => h.client.putDisk(diskHeader({ vmUuid: vm, backupId: '../../../etc/x' }), patternBlocks(1, [0])), status.INVALID_ARGUMENT, /backup id/);
      await refused(() => h.client.putDisk(diskHeader({ vmUuid: vm, backupId: 'ok', diskKey: '..' }), patternBlocks(1, [0])), status.INVALID_ARGUMENT, /disk key/);
      await refused(() => h.client.putDisk(diskHeader({ vmUuid: '../x', backupId: 'ok' }), patternBlocks(1, [0])), status.INVALID_ARGUMENT, /VM uuid/);
      await refused(() => h.client.getDisk(vm, '..%2f..', 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS).toArray(), status.INVALID_ARGUMENT, /backup id/);
    });

    test('an unknown parent', async () => {
      const header = diskHeader({ vmUuid: vm, backupId: 'orphan', parentFooterUuid: randomUUID(), virtualSize: SIZE });
      await refused(() => h.client.putDisk(header, patternBlocks(5, [0])), status.NOT_FOUND, /parent footer uuid .* is not a committed disk/);
    });

    test('a delta on a parent that is not its chain tail', async () => {
      const header = diskHeader({ vmUuid: vm, backupId: 'fork', parentFooterUuid: uuids[0]!, virtualSize: SIZE });
      await refused(() => h.client.putDisk(header, patternBlocks(5, [0])), status.FAILED_PRECONDITION, /already has the committed child/);
    });

    test('a digest that does not match the blocks', async () => {
      const header = diskHeader({ vmUuid: vm, backupId: 'bad-digest', parentFooterUuid: uuids[2]!, virtualSize: SIZE });
      const data = patternBlock(9, 3);
      const checksum = ruleChecksum('blake3', Buffer.alloc(512, 0xff), data, data.length);
      await refused(() => rawPutDisk(h.server.address, header, [{ index: 3, bitmap: new Uint8Array(0), data, checksum, packed: false }], { digest: Buffer.alloc(32) }), status.DATA_LOSS, /digest mismatch/);
    });

    test('committing a backup whose disk was never received', async () => {
      await refused(
        () => h.client.commitBackup({ backupId: 'never-sent', vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: '{}', policyJson: '', diskSources: [] }),
        status.NOT_FOUND,
        /was not received/,
      );
    });
  });
});
