// Packed blocks end to end (docs/remote-format.md §5, §7) on a real storage agent (in process, real
// gRPC and NATS): a chain full → packed delta → packed delta, where the deltas carry only some
// 64 KiB extents (and odd sectors) of their blocks. The wire carries and the remote allocates the
// marked bytes only; every reader gives the image the layers define (test/support/sparse-layers.ts,
// never our own reader): GetDisk blocks and its digest, the synthetic VHD stream through qemu-img,
// the chain files through libvhdi, `deltachain vhd check` and `vhd to-raw`, verify and scan; a
// merge of a packed delta into another ORs their bitmaps; the retention merge into the full keeps
// every date; a malformed packed block is refused with nothing left behind. The chain marks whole
// 4 KiB pages (CBT marks 64 KiB extents): libvhdi misreads a partly marked bitmap byte
// (docs/vhd-module.md §11), so a last delta of single sectors is read by every reader but it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { StorageClient, GetDiskFormat } from '../shared/grpc/storage-client.js';
import { DiskDigest, blockChecksum, foldedTerm, markedChecksum, ruleChecksum, type ChecksumRule } from '../shared/grpc/disk-checksum.js';
import { ruleOf } from './support/storage-chain-fixture.js';
import type { ChecksumRule as ChecksumRuleProto } from '../shared/proto/gen/deltachain/storage/v1/disk.js';
import { VhdFile, mergeVhd } from '../shared/vhd/index.js';
import { TaskStatus, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { RunningStorageAgent } from '../agent/storage/index.js';
import { BLOCK, MiB, diskHeader, listTree, patternBlock, records, tempRemoteRoot } from './support/storage-harness.js';
import { resultOf, storageTask, type TestNats } from './support/storage-nats.js';
import { startStorageAgentOnNats, type StorageAgentOnNats } from './support/storage-agent-nats.js';
import { rawPutDisk } from './support/storage-raw-client.js';
import { assertSameBytes, libvhdiChainToRaw, qemuVhdToRaw } from './support/vhd-oracles.js';
import { runDeltachain } from './support/vhd-cli.js';
import { EXTENT, bitmapOf, expectedImages, extentSectors, markedBytes, outgoingBlocks, packedData, pageSectors, type Layer } from './support/sparse-layers.js';

const SIZE = 16 * MiB;
const remoteId = `sparse-${randomUUID().slice(0, 8)}`;
const FULL_BITMAP = Buffer.alloc(512, 0xff);

const layers: Layer[] = [
  // The full: whole blocks, block 6 absent (a delta's sectors there lie over nothing).
  { seed: 1, blocks: [0, 1, 2, 3, 4, 5, 7].map((index) => ({ index })) },
  // 9 extents in 4 blocks, sent as whole blocks with bitmaps for the client to pack.
  {
    seed: 2,
    blocks: [
      { index: 0, sectors: extentSectors(0, 5, 6) },
      { index: 2, sectors: extentSectors(31) },
      { index: 6, sectors: extentSectors(3) },
      { index: 7, sectors: extentSectors(10, 11, 12, 13) },
    ],
  },
  // Packed by the caller: overlapping and new extents, single 4 KiB pages, one whole block.
  {
    seed: 3,
    blocks: [
      { index: 0, sectors: extentSectors(5, 20) },
      { index: 1, sectors: [...pageSectors(1), ...pageSectors(511)] },
      { index: 2, sectors: extentSectors(0) },
      { index: 4 },
      { index: 7, sectors: [...pageSectors(0), ...extentSectors(12)] },
    ],
  },
  // Sent after the merges: single sectors, runs across bitmap bytes.
  {
    seed: 4,
    blocks: [
      { index: 1, sectors: [1, 2, 3, 4095] },
      { index: 5, sectors: Array.from({ length: 31 }, (_, i) => 100 + i) },
      { index: 6, sectors: [7, 390] },
    ],
  },
];
const images = expectedImages(layers, SIZE);

describe('packed blocks through a storage agent', () => {
  let root: string;
  let scratch: string;
  let nats: TestNats;
  let agent: RunningStorageAgent;
  let client: StorageClient;
  let stack: StorageAgentOnNats;
  const vm = randomUUID();
  const ids = ['20261201T100000Z-f', '20261202T100000Z-d1', '20261203T100000Z-d2', '20261204T100000Z-d3'];
  const uuids = ids.map(() => randomUUID());
  const sentBytes: number[] = [];
  const folder = (): string => join(root, 'vms', vm, 'disks', 'xvda');
  const file = (n: number): string => join(folder(), `${ids[n]}.vhd`);
  const imagePath = (n: number): string => join(scratch, `expected-${n}.raw`);

  async function run(payload: Parameters<typeof storageTask>[1]): Promise<TaskResult> {
    const task = storageTask(remoteId, payload);
    await nats.publish(task);
    const event = await resultOf(nats, task.taskId);
    assert.equal(event.body?.$case, 'result');
    return event.body.value as TaskResult;
  }

  /** GetDisk BLOCKS folded into an image, with the digest of what came and the trailer's. */
  async function readBlocks(n: number): Promise<{ image: Buffer; digest: Buffer; trailer: Buffer }> {
    const image = Buffer.alloc(SIZE);
    const digest = new DiskDigest();
    let trailer = Buffer.alloc(0);
    let rule: ChecksumRule = 'whole';
    for await (const part of client.getDiskParts(vm, ids[n]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
      if (part.$case === 'header') rule = ruleOf(part.value.checksumRule);
      else if (part.$case === 'block') {
        const { index, bitmap, data } = part.value;
        assert.ok(Buffer.from(bitmap).equals(FULL_BITMAP), 'GetDisk sends folded, whole blocks');
        assert.equal(part.value.packed, false);
        assert.equal(rule, 'blake3', 'the rule of the chain digest the commit took');
        digest.add(index, foldedTerm(rule, bitmap, data));
        image.set(data, index * BLOCK);
      } else if (part.$case === 'trailer') {
        trailer = Buffer.from(part.value.digest);
      }
    }
    return { image, digest: digest.digest(), trailer };
  }

  async function assertRestores(n: number, what: string): Promise<void> {
    const { image, digest, trailer } = await readBlocks(n);
    assert.ok(image.equals(images[n]!), `${what}: GetDisk blocks of ${ids[n]} differ from the layers' image`);
    assert.ok(digest.equals(trailer), `${what}: trailer digest`);
    const summary = (await client.listBackups(vm)).find((b) => b.backupId === ids[n]);
    assert.ok(Buffer.from(summary!.disks[0]!.chainDigest).equals(digest), `${what}: chain digest of ${ids[n]}`);
    // The synthetic VHD stream, read by qemu-img.
    const vhd = join(scratch, `stream-${n}.vhd`);
    const chunks: Buffer[] = [];
    for await (const part of client.getDiskParts(vm, ids[n]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD)) {
      if (part.$case === 'vhdChunk') chunks.push(Buffer.from(part.value));
    }
    await writeFile(vhd, Buffer.concat(chunks));
    const raw = join(scratch, `stream-${n}.raw`);
    await qemuVhdToRaw(vhd, raw);
    await assertSameBytes(raw, imagePath(n), `${what}: qemu-img reading the synthetic stream of ${ids[n]}`);
    await rm(vhd);
    await rm(raw);
  }

  before(async () => {
    root = await tempRemoteRoot();
    scratch = await mkdtemp(join(root, '..', 'deltachain-sparse-scratch-'));
    for (const [n, image] of images.entries()) await writeFile(imagePath(n), image);
    stack = await startStorageAgentOnNats(remoteId, root);
    ({ nats, agent, client } = stack);
    for (let n = 0; n < 3; n++) await upload(n);
  });

  async function upload(n: number): Promise<void> {
    const header = diskHeader({ vmUuid: vm, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: SIZE });
    let bytes = 0;
    const blocks = outgoingBlocks(layers[n]!, n === 1 ? 'whole' : 'packed');
    await client.putDisk(header, blocks, { packPartialBlocks: n === 1, onProgress: (_, b) => (bytes = b) });
    sentBytes.push(bytes);
    await client.commitBackup({ backupId: ids[n]!, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
  }

  after(async () => {
    await stack.close();
    await rm(scratch, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  });

  test('a packed delta costs its changed extents on the wire and on the remote', async (t) => {
    const extents = 9;
    assert.equal(markedBytes(layers[1]!), extents * EXTENT);
    assert.equal(sentBytes[1], extents * EXTENT, 'data bytes sent for the first delta');
    assert.equal(sentBytes[2], markedBytes(layers[2]!) + BLOCK, 'data bytes sent for the second delta (one whole block)');
    const vhd = await VhdFile.open(file(1));
    const firstBlock = Math.min(...[...vhd.bat].filter((e) => e !== 0xffffffff)) * 512;
    const storedBlocks = vhd.blockCount === 0 ? 0 : [...vhd.bat].filter((e) => e !== 0xffffffff).length;
    await vhd.close();
    assert.equal(storedBlocks, 4);
    const page = 4096;
    // Metadata: the pages before the first block (footer copy, header, BAT, locators), the page of
    // each block's bitmap, the trailing footer's page.
    const metadata = Math.ceil(firstBlock / page) * page + storedBlocks * page + page;
    const allocated = (await stat(file(1))).blocks * 512;
    t.diagnostic(`delta of ${extents} × 64 KiB extents in 4 blocks: ${allocated} bytes allocated (${(allocated / (extents * EXTENT)).toFixed(3)} × the extents; metadata allowance ${metadata}; whole blocks would be ${4 * BLOCK})`);
    assert.ok(allocated >= extents * EXTENT, `${allocated} bytes allocated`);
    assert.ok(allocated <= 1.1 * extents * EXTENT + metadata, `${allocated} bytes allocated, more than 1.1 × ${extents * EXTENT} + ${metadata}`);
  });

  test('every date restores the layers\' image: GetDisk blocks, its digest, the synthetic stream through qemu-img', async () => {
    for (let n = 0; n < 3; n++) await assertRestores(n, 'as received');
  });

  test('libvhdi reads the chain files; vhd check compares every .sums; vhd to-raw reads the chain', async () => {
    const raw = join(scratch, 'libvhdi.raw');
    for (const n of [1, 2]) {
      const chain = Array.from({ length: n + 1 }, (_, i) => file(n - i));
      assert.equal(await libvhdiChainToRaw(chain, raw), SIZE);
      await assertSameBytes(raw, imagePath(n), `libvhdi reading ${ids[n]}'s chain`);
    }
    const check = await runDeltachain(['vhd', 'check', file(2)]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /: ok \(3 disks in the chain, \d+ blocks read, 3 of 3 checked against their \.sums\)\n$/);
    await rm(raw);
    const toRaw = await runDeltachain(['vhd', 'to-raw', file(2), raw]);
    assert.equal(toRaw.code, 0, toRaw.stderr);
    await assertSameBytes(raw, imagePath(2), 'vhd to-raw of the tail');
    await rm(raw);
  });

  test('verify passes and scan reports the chain, no garbage', async () => {
    for (const n of [1, 2]) {
      const verify = await run({ $case: 'verify', value: { vmUuid: vm, backupId: ids[n]! } });
      assert.equal(verify.status, TaskStatus.TASK_STATUS_SUCCEEDED, verify.error?.message);
      assert.ok(verify.output?.$case === 'verify' && verify.output.value.ok, JSON.stringify(verify.output?.value));
      assert.deepEqual(verify.output.value.badBlocks, []);
    }
    const report = await run({ $case: 'scan', value: { removeGarbage: false, graceSeconds: 600 } });
    assert.ok(report.output?.$case === 'scan');
    assert.deepEqual(report.output.value.chains, [{ vmUuid: vm, diskKey: 'xvda', footerUuids: uuids.slice(0, 3), backupIds: ids.slice(0, 3) }]);
    assert.deepEqual(report.output.value.garbage, []);
  });

  test('a malformed packed block is refused and leaves nothing', async () => {
    const delta = (backupId: string) => diskHeader({ vmUuid: vm, backupId, parentFooterUuid: uuids[2]!, virtualSize: SIZE });
    const sectors = extentSectors(4);
    const bitmap = bitmapOf(sectors);
    const data = packedData(9, { index: 3, sectors });
    const expanded = Buffer.alloc(BLOCK);
    data.copy(expanded, 4 * EXTENT);
    const good = ruleChecksum('blake3', bitmap, data, BLOCK, true);
    const cases: Array<[string, Parameters<typeof rawPutDisk>[2][number], status, RegExp, ReturnType<typeof diskHeader>?]> = [
      ['short data', { index: 3, bitmap, data: data.subarray(512), checksum: good, packed: true }, status.INVALID_ARGUMENT, /block 3: 65024 packed data bytes, expected 65536 for the 128 sectors the bitmap marks/],
      ['data past a block', { index: 3, bitmap: FULL_BITMAP, data: Buffer.alloc(BLOCK + 512), checksum: good, packed: true }, status.INVALID_ARGUMENT, /2097664 packed data bytes, more than a block \(2097152\)/],
      ['a short bitmap', { index: 3, bitmap: bitmap.subarray(0, 256), data, checksum: good, packed: true }, status.INVALID_ARGUMENT, /a packed block needs its 512-byte bitmap, got 256 bytes/],
      ['no bitmap', { index: 3, bitmap: Buffer.alloc(0), data, checksum: good, packed: true }, status.INVALID_ARGUMENT, /needs its 512-byte bitmap, got 0 bytes/],
      ['a bitmap marking nothing', { index: 3, bitmap: Buffer.alloc(512), data: Buffer.alloc(0), checksum: good, packed: true }, status.INVALID_ARGUMENT, /marks no sector/],
      ['a checksum by the whole-block rule in a stream announcing the piece rule', { index: 3, bitmap, data, checksum: markedChecksum(bitmap, data, BLOCK, true), packed: true }, status.DATA_LOSS, /block 3: checksum mismatch/],
      ['a header with a checksum rule this agent does not know', { index: 3, bitmap, data, checksum: good, packed: true }, status.INVALID_ARGUMENT, /checksum rule 7 is not one this storage agent knows/, { ...delta('unknown-rule'), checksumRule: 7 as ChecksumRuleProto }],
      ['a checksum of the expanded block (the rule before remote format 4)', { index: 3, bitmap, data, checksum: blockChecksum(bitmap, expanded), packed: true }, status.DATA_LOSS, /block 3: checksum mismatch/],
      ['a checksum of the block with its unmarked sectors', { index: 3, bitmap, data, checksum: blockChecksum(bitmap, patternBlock(9, 3)), packed: true }, status.DATA_LOSS, /block 3: checksum mismatch/],
      ['a packed block in a full', { index: 3, bitmap, data, checksum: good, packed: true }, status.INVALID_ARGUMENT, /a packed block in a full; a full's blocks are whole/, diskHeader({ vmUuid: vm, backupId: 'packed-full', virtualSize: SIZE })],
    ];
    const address = agent.address;
    for (const [what, block, code, pattern, header] of cases) {
      const before = await listTree(root);
      // A good block first: the refusal must also remove what was already written.
      const first = { index: 1, bitmap: Buffer.alloc(0), data: patternBlock(9, 1), checksum: ruleChecksum('blake3', FULL_BITMAP, patternBlock(9, 1), BLOCK), packed: false };
      await assert.rejects(rawPutDisk(address, header ?? delta(`refused-${randomUUID().slice(0, 8)}`), [first, block]), (error: ServiceError) => {
        assert.equal(error.code, code, `${what}: status ${error.code}: ${error.details}`);
        assert.match(error.details, pattern, what);
        return true;
      });
      assert.deepEqual(await listTree(root), before, `${what}: files changed`);
    }
    // The well-formed block is taken (and then discarded: it is never committed).
    const backupId = 'packed-ok';
    await rawPutDisk(address, delta(backupId), [{ index: 3, bitmap, data, checksum: good, packed: true }]);
    await client.discardBackup(vm, backupId);
    // The client refuses to pack in a full, and with packPartialBlocks skips a block that marks nothing.
    await assert.rejects(client.putDisk(diskHeader({ vmUuid: vm, backupId: 'client-full', virtualSize: SIZE }), [{ index: 3, bitmap, data, packed: true }]), /block 3: a packed block in a full/);
    const skipped = await client.putDisk(delta('client-skip'), [{ index: 2, bitmap: Buffer.alloc(512), data: patternBlock(9, 2) }, { index: 3, bitmap, data: patternBlock(9, 3) }], { packPartialBlocks: true });
    assert.equal(skipped.blockCount, 1);
    await client.discardBackup(vm, 'client-skip');
    await client.discardBackup(vm, 'client-full');
  });

  test('merging a packed delta into a packed delta ORs their bitmaps and reads as the newer date', async () => {
    const copies = await mkdtemp(join(scratch, 'copies-'));
    for (let n = 0; n < 3; n++) await copyFile(file(n), join(copies, `${ids[n]}.vhd`));
    await mergeVhd(join(copies, `${ids[2]}.vhd`));
    const merged = await VhdFile.open(join(copies, `${ids[2]}.vhd`));
    try {
      const block0 = await merged.readBlock(0);
      assert.ok(Buffer.from(block0!.bitmap).equals(bitmapOf(extentSectors(0, 5, 6, 20))), 'block 0: extents 0, 5, 6 | 5, 20');
      const block7 = await merged.readBlock(7);
      assert.ok(Buffer.from(block7!.bitmap).equals(bitmapOf([...pageSectors(0), ...extentSectors(10, 11, 12, 13)])), 'block 7');
      const block4 = await merged.readBlock(4);
      assert.ok(Buffer.from(block4!.bitmap).equals(FULL_BITMAP), 'block 4 (whole)');
    } finally {
      await merged.close();
    }
    const raw = join(scratch, 'merged.raw');
    await libvhdiChainToRaw([join(copies, `${ids[2]}.vhd`), join(copies, `${ids[0]}.vhd`)], raw);
    await assertSameBytes(raw, imagePath(2), 'libvhdi reading the merged deltas over the full');
    await rm(raw);
    await rm(copies, { recursive: true });
  });

  test('the retention merge of the packed delta into the full keeps every date, read by qemu-img, libvhdi and verify', async () => {
    const result = await run({ $case: 'merge', value: { vmUuid: vm, backupId: ids[1]! } });
    assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
    assert.ok(result.output?.$case === 'merge');
    assert.deepEqual(result.output.value.retiredBackupIds, [ids[0]]);
    const raw = join(scratch, 'after-merge.raw');
    await qemuVhdToRaw(file(1), raw);
    await assertSameBytes(raw, imagePath(1), 'qemu-img reading the merged full');
    await libvhdiChainToRaw([file(2), file(1)], raw);
    await assertSameBytes(raw, imagePath(2), 'libvhdi reading the tail over the merged full');
    await rm(raw);
    for (const n of [1, 2]) {
      await assertRestores(n, 'after the merge');
      const verify = await run({ $case: 'verify', value: { vmUuid: vm, backupId: ids[n]! } });
      assert.ok(verify.output?.$case === 'verify' && verify.output.value.ok, JSON.stringify(verify.output?.value));
    }
    const check = await runDeltachain(['vhd', 'check', file(2)]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /ok \(2 disks in the chain, \d+ blocks read, 2 of 2 checked against their \.sums\)/);
  });

  test('a delta of single sectors (partly marked bitmap bytes) reads right through GetDisk, qemu-img, vhd to-raw, check and verify', async () => {
    await upload(3);
    await assertRestores(3, 'single sectors');
    const raw = join(scratch, 'sectors.raw');
    const toRaw = await runDeltachain(['vhd', 'to-raw', file(3), raw]);
    assert.equal(toRaw.code, 0, toRaw.stderr);
    await assertSameBytes(raw, imagePath(3), 'vhd to-raw of the single-sector delta');
    await rm(raw);
    const check = await runDeltachain(['vhd', 'check', file(3)]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /ok \(3 disks in the chain, \d+ blocks read, 3 of 3 checked against their \.sums\)/);
    const verify = await run({ $case: 'verify', value: { vmUuid: vm, backupId: ids[3]! } });
    assert.ok(verify.output?.$case === 'verify' && verify.output.value.ok, JSON.stringify(verify.output?.value));
  });
});
