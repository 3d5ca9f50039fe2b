// Mirrors at the storage level (proto MirrorTask; docs/remote-format.md §7, "Serving a backup's
// own file" and "Mirrors"): a source remote's storage agent serves over mutual TLS with the
// coordinator's grants checked, as in production; a host agent of pool `lab` backs a VM up to it
// (a full and two deltas whose partly marked blocks travel packed). Target storage agents run the
// mirror task and pull from the source with their own certificates and the task's read grant:
//   - GetDisk OWN serves a backup's own file: its parent, bitmaps as stored, partly marked blocks
//     packed, piece-rule checksums and the file's digest;
//   - the full, then each delta, arrive date by date equal to the source's; the deltas stay deltas
//     on the target, and what travelled for a delta is its own data, not the disk;
//   - a mirror that starts at the second backup takes it whole (the folded disk) and the third as
//     a delta; a redelivered task changes nothing (already_present);
//   - refused with nothing left on the target: a chain digest that is not the catalogue's, a
//     missing or wrong read grant (the source refuses), a source whose certificate is not the
//     remote the task names, and a damaged block on the source (DATA_DAMAGED, both formats);
//   - a real storage agent process takes a signed mirror task from NATS and runs it.
import { BandwidthLimits } from '../shared/bandwidth.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { channelCredentials } from '../shared/grpc/credentials.js';
import { DiskDigest, digestHex, pieceHashes, piecesChecksum, ruleChecksum } from '../shared/grpc/disk-checksum.js';
import { markedSectors } from '../shared/grpc/packed-block.js';
import { GetDiskFormat, StorageClient } from '../shared/grpc/storage-client.js';
import { GrantAction, encodeSignedGrant, signGrant, type Grant, type SignedGrant } from '../shared/grants/index.js';
import type { Identity } from '../shared/identity/index.js';
import { TaskStatus, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { MirrorResult, MirrorTask } from '../shared/proto/gen/deltachain/tasks/v1/storage_tasks.js';
import type { Task } from '../shared/proto/gen/deltachain/tasks/v1/task.js';
import { generateSigningKeyPair, signerFromPem, verifierFromPem, type Signer } from '../shared/signing/index.js';
import { decodeSums, encodeSums, isAllOnes, type SumsEntry } from '../shared/sums/index.js';
import { ChainReader, DiskType, VhdFile } from '../shared/vhd/index.js';
import { readBackupMetadata, type BackupMetadata } from '../agent/storage/backup-metadata.js';
import { computeChainDigest } from '../agent/storage/chain-digest.js';
import type { RemoteContext } from '../agent/storage/remote-context.js';
import { startStorageServer, type StorageServer } from '../agent/storage/storage-server.js';
import { StorageTaskRunner } from '../agent/storage/task-runner.js';
import { makeRolePki, type CertFiles, type RolePki } from './support/role-pki.js';
import { startAgentProcess, type AgentProcess } from './support/storage-agent-process.js';
import { BLOCK, diskHeader, listTree, patternBlock, testContext } from './support/storage-harness.js';
import { MIXED_CHAIN, SECTOR, digestOfBlocks, flipByte, foldedDate, newChain, type ChainModel, type ModelBlock } from './support/storage-chain-fixture.js';
import { sumsV1OfFile } from './support/sums-v1.js';
import { resultOf, startTestNats, storageTask, type TestNats } from './support/storage-nats.js';
import { requireOpenssl } from './support/storage-tls.js';

const SOURCE = 'src';
/** A full and two deltas; each layer has a partly marked block (the full's travels whole). */
const MODEL: ChainModel = MIXED_CHAIN.slice(0, 3);
const SIZE = 32 * 1024 * 1024;

interface Remote {
  remoteId: string;
  root: string;
  ctx: RemoteContext;
}

interface Target extends Remote {
  runner: StorageTaskRunner;
  progress: { done: number; total: number }[];
}

/** Bytes a layer's blocks are as they travel: whole blocks whole, partly marked ones packed. */
function ownBytes(layer: ModelBlock[]): number {
  return layer.reduce((sum, b) => sum + (b.sectors ? (b.sectors[1] - b.sectors[0]) * SECTOR : BLOCK), 0);
}

function bitmapOf(block: ModelBlock): Buffer | undefined {
  if (!block.sectors) return undefined;
  const bitmap = Buffer.alloc(BLOCK / SECTOR / 8);
  for (let s = block.sectors[0]; s < block.sectors[1]; s++) bitmap[s >> 3]! |= 0x80 >> (s & 7);
  return bitmap;
}

describe('mirrors: a target storage agent copies a committed backup from the source', () => {
  before(requireOpenssl);
  let folder: string;
  let pki: RolePki;
  let coordinator: Signer;
  let coordinatorPub: string;
  let source: Remote & { server: StorageServer };
  let host: StorageClient;
  const certs = new Map<string, CertFiles>();
  const chain = newChain(MODEL.length);
  const { vmUuid, ids, uuids } = chain;
  const vdiUuid = randomUUID();
  const snapshotVdiUuids = ids.map(() => randomUUID());

  const tls = (name: string, server?: Identity) => channelCredentials({ ca: pki.ca.cert, ...certs.get(name)!, insecure: false }, server);
  const grant = (fields: Partial<Grant>, signer = coordinator): SignedGrant =>
    signGrant(signer, {
      action: GrantAction.GRANT_ACTION_READ,
      remoteId: SOURCE,
      vmUuid,
      backupId: ids[0]!,
      diskKeys: ['xvda'],
      holder: 'storage:dst',
      expiresAtMs: Date.now() + 600_000,
      taskId: randomUUID(),
      ...fields,
    });

  async function newRemote(remoteId: string): Promise<Remote> {
    const root = await mkdtemp(join(folder, `${remoteId}-`));
    const ctx = testContext(root, remoteId);
    await ctx.layout.ensure();
    return { remoteId, root, ctx };
  }

  /** A target storage agent's core: its remote and task runner, reaching the source with its own certificate. */
  async function newTarget(remoteId: string, mirrorLimits?: BandwidthLimits): Promise<Target> {
    if (!certs.has(remoteId)) certs.set(remoteId, await pki.issue({ role: 'storage', name: remoteId }, { server: true, file: remoteId }));
    const remote = await newRemote(remoteId);
    const progress: { done: number; total: number }[] = [];
    const events = {
      publish: async (_taskId: string, body: { $case: string; value: unknown }) => {
        if (body.$case === 'progress') progress.push(body.value as { done: number; total: number });
      },
    };
    const runner = new StorageTaskRunner(remote.ctx, events, { progressIntervalMs: 0, sourceCredentials: (id) => tls(remoteId, { role: 'storage', name: id }), ...(mirrorLimits ? { mirrorLimits } : {}) });
    return { ...remote, runner, progress };
  }

  const chainDigestOf = async (n: number): Promise<Buffer> => Buffer.from((await sourceMetadata(n)).disks[0]!.chainDigest!.slice('sha256:'.length), 'hex');
  const sourceMetadata = async (n: number): Promise<BackupMetadata> => (await readBackupMetadata(source.ctx.layout.metadataPath(vmUuid, ids[n]!)))!;
  const metadataOf = (remote: Remote, n: number): Promise<BackupMetadata | undefined> => readBackupMetadata(remote.ctx.layout.metadataPath(vmUuid, ids[n]!));
  const fileOf = (remote: Remote, n: number): string => join(remote.root, 'vms', vmUuid, 'disks', 'xvda', `${ids[n]}.vhd`);

  async function mirrorTask(target: Target, n: number, o: { readGrant?: SignedGrant | null; chainDigest?: Buffer; sourceRemoteId?: string; sourceAddress?: string } = {}): Promise<MirrorTask> {
    return {
      vmUuid,
      backupId: ids[n]!,
      sourceRemoteId: o.sourceRemoteId ?? SOURCE,
      sourceAddress: o.sourceAddress ?? source.server.address,
      readGrant: o.readGrant === null ? undefined : (o.readGrant ?? grant({ backupId: ids[n]!, holder: `storage:${target.remoteId}` })),
      disks: [{ diskKey: 'xvda', footerUuid: uuids[n]!, chainDigest: o.chainDigest ?? (await chainDigestOf(n)) }],
      mirrorName: 'offsite',
    };
  }

  async function mirror(target: Target, n: number, o: Parameters<typeof mirrorTask>[2] = {}): Promise<TaskResult> {
    return target.runner.run(storageTask(target.remoteId, { $case: 'mirror', value: await mirrorTask(target, n, o) }));
  }

  async function mirrored(target: Target, n: number): Promise<MirrorResult> {
    const result = await mirror(target, n);
    assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
    assert.ok(result.output?.$case === 'mirror');
    return result.output.value;
  }

  async function refused(target: Target, n: number, o: Parameters<typeof mirrorTask>[2], code: string, message: RegExp): Promise<void> {
    const before = await listTree(target.root);
    const result = await mirror(target, n, o);
    assert.equal(result.status, TaskStatus.TASK_STATUS_FAILED);
    assert.equal(result.error?.code, code, result.error?.message);
    assert.equal(result.error?.retryable, false, result.error?.message);
    assert.match(result.error!.message, message);
    assert.match(result.error!.message, new RegExp(`mirror offsite of backup ${ids[n]} \\(VM ${vmUuid}\\) from remote ${SOURCE} to remote ${target.remoteId}`));
    assert.deepEqual(await listTree(target.root), before, 'nothing of the backup is left on the target');
    assert.equal(await metadataOf(target, n), undefined, 'nothing was committed');
  }

  /** The target's date n reads as the source's (and as the model folds it), with the source's records, policy and digests. */
  async function assertSameDate(target: Remote, n: number): Promise<void> {
    const [mine, theirs] = [(await metadataOf(target, n))!, await sourceMetadata(n)];
    assert.ok(mine, `${ids[n]} is committed on ${target.remoteId}`);
    assert.deepEqual([mine.timestamp, mine.records, mine.policy], [theirs.timestamp, theirs.records, theirs.policy]);
    const [disk, sourceDisk] = [mine.disks[0]!, theirs.disks[0]!];
    assert.deepEqual([disk.footerUuid, disk.chainDigest, disk.chainDigestRule, disk.vdiUuid, disk.snapshotVdiUuid, disk.virtualSize], [sourceDisk.footerUuid, sourceDisk.chainDigest, 'blake3', vdiUuid, snapshotVdiUuids[n], SIZE]);
    await assertSameContent(target, n);
  }

  /** The target's date n reads block for block as the source's and as the model folds it. */
  async function assertSameContent(target: Remote, n: number): Promise<void> {
    const [copy, original] = await Promise.all([ChainReader.open(fileOf(target, n)), ChainReader.open(fileOf(source, n))]);
    try {
      const expected = foldedDate(MODEL, n);
      assert.deepEqual(copy.allocatedBlocks(), [...expected.keys()]);
      for (let index = 0; index < copy.blockCount; index++) {
        const block = await copy.readBlock(index);
        assert.ok(block.equals(await original.readBlock(index)), `${target.remoteId} ${ids[n]} block ${index} differs from the source's`);
        assert.ok(block.equals(expected.get(index) ?? Buffer.alloc(BLOCK)), `${ids[n]} block ${index} differs from the model`);
      }
    } finally {
      await Promise.all([copy.close(), original.close()]);
    }
  }

  /** Date n on the target is a delta on date n-1, its blocks' bitmaps and marked data as the source's file holds them. */
  /** `sameFileDigest`: the copy's table has the source table's digest (both by the piece rule). */
  async function assertDelta(target: Remote, n: number, sameFileDigest = true): Promise<void> {
    const disk = (await metadataOf(target, n))!.disks[0]!;
    assert.deepEqual([disk.parentFooterUuid, disk.parentFile], [uuids[n - 1], `disks/xvda/${ids[n - 1]}.vhd`]);
    if (sameFileDigest) assert.equal(disk.digest, (await sourceMetadata(n)).disks[0]!.digest, "the file's own digest is the source file's");
    const [copy, original] = await Promise.all([VhdFile.open(fileOf(target, n)), VhdFile.open(fileOf(source, n))]);
    try {
      assert.equal(copy.footer.diskType, DiskType.Differencing);
      assert.equal(copy.header.parentUuid, uuids[n - 1]);
      assert.deepEqual(copy.allocatedBlocks(), original.allocatedBlocks());
      for (const index of copy.allocatedBlocks()) {
        const [a, b] = [(await copy.readMarked(index))!, (await original.readMarked(index))!];
        assert.ok(a.bitmap.equals(b.bitmap) && a.data.equals(b.data), `${ids[n]} block ${index}: bitmap or marked data differ`);
      }
    } finally {
      await Promise.all([copy.close(), original.close()]);
    }
  }

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'dc-storage-mirror-'));
    pki = await makeRolePki(folder);
    const issue = async (name: string, identity: Identity, server = false) => certs.set(name, await pki.issue(identity, { server, file: name }));
    await Promise.all([issue(SOURCE, { role: 'storage', name: SOURCE }, true), issue('host-lab', { role: 'host', name: 'lab' })]);
    const pair = generateSigningKeyPair();
    coordinator = signerFromPem(pair.privatePem, 'coordinator');
    coordinatorPub = join(folder, 'coordinator.pub');
    await writeFile(coordinatorPub, pair.publicPem);
    const remote = await newRemote(SOURCE);
    const server = await startStorageServer(remote.ctx, { host: '127.0.0.1', port: 0 }, { ca: pki.ca.cert, ...certs.get(SOURCE)!, insecure: false }, verifierFromPem(pair.publicPem, 'coordinator'));
    source = { ...remote, server };
    host = new StorageClient(server.address, tls('host-lab', { role: 'storage', name: SOURCE }));
    await backUp();
  });

  after(async () => {
    host?.close();
    await source?.server.close();
    await rm(folder, { recursive: true, force: true });
  });

  /** The host agent of pool lab sends the model's layers as backups ids[n], deltas with their partly marked blocks packed. */
  async function backUp(): Promise<void> {
    for (let n = 0; n < MODEL.length; n++) {
      const write = grant({ action: GrantAction.GRANT_ACTION_WRITE, backupId: ids[n]!, diskKeys: [], holder: 'host:lab' });
      const options = { grant: signedBytes(write) };
      const header = diskHeader({ vmUuid, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: SIZE, timestampMs: Date.parse('2026-11-26T10:00:00Z') + n * 86_400_000 });
      const blocks = MODEL[n]!.map((b) => ({ index: b.index, data: patternBlock(b.seed, b.index), bitmap: bitmapOf(b) }));
      await host.putDisk(header, blocks, { ...options, packPartialBlocks: n > 0 });
      await host.commitBackup(
        {
          backupId: ids[n]!,
          vmUuid,
          timestampMs: header.timestampMs,
          diskKeys: ['xvda'],
          recordsJson: JSON.stringify({ vm: { uuid: vmUuid, name_label: 'mirrored vm' }, vdis: [{ uuid: vdiUuid }], n }),
          policyJson: '{"id":"nightly","retention":7}',
          diskSources: [{ diskKey: 'xvda', vdiUuid, snapshotVdiUuid: snapshotVdiUuids[n]! }],
        },
        options,
      );
    }
  }

  test('GetDisk OWN serves a delta file as stored: parent, bitmaps, packed partly marked blocks, piece-rule checksums, the file digest', async () => {
    const read = grant({ backupId: ids[1]!, holder: 'host:lab' });
    const parts = [];
    for await (const part of host.getDiskParts(vmUuid, ids[1]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_OWN, { grant: signedBytes(read) })) parts.push(part);
    const [header, ...rest] = parts;
    assert.ok(header?.$case === 'header');
    assert.deepEqual([header.value.footerUuid, header.value.parentFooterUuid, header.value.virtualSize, header.value.blockSize], [uuids[1], uuids[0], SIZE, BLOCK]);
    const trailer = rest.pop();
    assert.ok(trailer?.$case === 'trailer');
    const digest = new DiskDigest();
    const blocks = rest.map((p) => (p.$case === 'block' ? p.value : assert.fail(`a ${p.$case} among the blocks`)));
    assert.deepEqual(blocks.map((b) => b.index), MODEL[1]!.map((b) => b.index));
    for (const block of blocks) {
      const model = MODEL[1]!.find((b) => b.index === block.index)!;
      const bitmap = bitmapOf(model) ?? Buffer.alloc(BLOCK / SECTOR / 8, 0xff);
      assert.ok(Buffer.from(block.bitmap).equals(bitmap), `block ${block.index}: the stored bitmap`);
      assert.equal(block.packed, model.sectors !== undefined, `block ${block.index}: packed when partly marked`);
      assert.equal(block.data.length, model.sectors ? markedSectors(bitmap, BLOCK) * SECTOR : BLOCK);
      assert.ok(Buffer.from(block.checksum).equals(ruleChecksum('blake3', bitmap, block.data, BLOCK, block.packed)), `block ${block.index}: piece-rule checksum`);
      digest.add(block.index, block.checksum);
    }
    assert.equal(trailer.value.blockCount, blocks.length);
    assert.ok(Buffer.from(trailer.value.digest).equals(digest.digest()));
    assert.equal(digestHex(trailer.value.digest), (await sourceMetadata(1)).disks[0]!.digest, "the trailer's digest is the file's own");
    const full = [];
    for await (const part of host.getDiskParts(vmUuid, ids[0]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_OWN, { grant: signedBytes(grant({ backupId: ids[0]!, holder: 'host:lab' })) })) full.push(part);
    assert.ok(full[0]?.$case === 'header' && full[0].value.parentFooterUuid === '', "a full's header names no parent");
    // The full's partly marked block goes whole (a full takes no packed block), with its stored bytes.
    const partial = MODEL[0]!.find((b) => b.sectors)!;
    const sent = full.find((p) => p.$case === 'block' && p.value.index === partial.index);
    assert.ok(sent?.$case === 'block' && !sent.value.packed && Buffer.from(sent.value.data).equals(patternBlock(partial.seed, partial.index)));
    assert.ok(Buffer.from(sent.value.bitmap).equals(bitmapOf(partial)!));
    assert.ok(Buffer.from(sent.value.checksum).equals(ruleChecksum('blake3', bitmapOf(partial)!, sent.value.data, BLOCK)));
  });

  test('the full, then each delta: every date equal to the source, deltas stay deltas, a delta brings its own data only', async () => {
    const target = await newTarget('dst');
    const first = await mirrored(target, 0);
    assert.deepEqual(first.disks, [{ diskKey: 'xvda', mode: 'full', blockCount: MODEL[0]!.length, bytesReceived: MODEL[0]!.length * BLOCK }]);
    assert.equal(first.alreadyPresent, false);
    assert.equal(first.backup?.backupId, ids[0]);
    assert.deepEqual(target.progress.at(-1), { phase: 'mirror', done: first.disks[0]!.blockCount, total: first.disks[0]!.blockCount, unit: 'blocks', attempt: 1 });
    await assertSameDate(target, 0);
    for (const n of [1, 2]) {
      const result = await mirrored(target, n);
      assert.deepEqual(result.disks, [{ diskKey: 'xvda', mode: 'delta', blockCount: MODEL[n]!.length, bytesReceived: ownBytes(MODEL[n]!) }]);
      assert.equal(result.bytesReceived, ownBytes(MODEL[n]!), `${ids[n]}: ${result.bytesReceived} bytes travelled for a delta of ${ownBytes(MODEL[n]!)}`);
      assert.ok(result.bytesReceived < SIZE / 4, 'far less than the disk');
      assert.deepEqual([result.backup?.disks[0]?.parentFooterUuid, result.backup?.disks[0]?.chainPosition], [uuids[n - 1], n]);
      assert.ok(Buffer.from(result.backup!.disks[0]!.chainDigest).equals(await chainDigestOf(n)));
      await assertSameDate(target, n);
      await assertDelta(target, n);
    }
    for (const n of [0, 1]) await assertSameDate(target, n);
  });

  test('a pull limit for the source remote (storage.mirrorBandwidth) paces the copy; a limit for another remote does not', async () => {
    const MBIT = 64;
    const limited = await newTarget('dst-paced', new BandwidthLimits([{ remote: SOURCE, mbit: MBIT }]));
    const other = await newTarget('dst-other', new BandwidthLimits([{ remote: 'elsewhere', mbit: MBIT }]));
    const timed = async (target: Target): Promise<{ ms: number; bytes: number }> => {
      const started = performance.now();
      const result = await mirrored(target, 0);
      return { ms: performance.now() - started, bytes: result.bytesReceived };
    };
    const free = await timed(other);
    const paced = await timed(limited);
    const floorMs = ((paced.bytes * 8) / (MBIT * 1e6)) * 1000 - 100; // the bucket lets 100 ms through at once
    console.log(`# a full copy of ${paced.bytes} bytes: ${Math.round(free.ms)} ms unlimited, ${Math.round(paced.ms)} ms at ${MBIT} Mbit/s (floor ${Math.round(floorMs)} ms)`);
    assert.ok(paced.ms >= floorMs, `${paced.bytes} bytes at ${MBIT} Mbit/s took ${Math.round(paced.ms)} ms, under the ${Math.round(floorMs)} ms the limit allows`);
    assert.ok(free.ms < floorMs, `the copy with another remote's limit took ${Math.round(free.ms)} ms: faster than the limit would let it, so not paced`);
    await assertSameDate(limited, 0);
  });

  test('a redelivered task is already present and changes nothing', async () => {
    const target = await newTarget('dst-again');
    await mirrored(target, 0);
    const before = await listTree(target.root);
    const again = await mirrored(target, 0);
    assert.deepEqual([again.alreadyPresent, again.disks, again.bytesReceived, again.backup?.backupId], [true, [], 0, ids[0]]);
    assert.deepEqual(await listTree(target.root), before);
  });

  test('a mirror starting at the second backup takes it whole (the folded disk), then the third as a delta', async () => {
    const target = await newTarget('dst-late');
    const second = await mirrored(target, 1);
    const folded = foldedDate(MODEL, 1);
    assert.deepEqual(second.disks, [{ diskKey: 'xvda', mode: 'full', blockCount: folded.size, bytesReceived: folded.size * BLOCK }]);
    const disk = (await metadataOf(target, 1))!.disks[0]!;
    assert.deepEqual([disk.parentFooterUuid, disk.chainPosition, disk.footerUuid], [null, 0, uuids[1]]);
    await assertSameDate(target, 1);
    const third = await mirrored(target, 2);
    assert.deepEqual(third.disks, [{ diskKey: 'xvda', mode: 'delta', blockCount: MODEL[2]!.length, bytesReceived: ownBytes(MODEL[2]!) }]);
    await assertSameDate(target, 2);
    await assertDelta(target, 2);
  });

  test('a chain digest that is not the catalogue’s is refused at commit: nothing committed, nothing left', async () => {
    const target = await newTarget('dst-digest');
    await mirrored(target, 0);
    const wrong = Buffer.from(await chainDigestOf(1));
    wrong[0]! ^= 1;
    await refused(target, 1, { chainDigest: wrong }, 'MIRROR_DIGEST_MISMATCH', /the copy's chain digest is sha256:[0-9a-f]{64}, the source backup's is sha256:[0-9a-f]{64}.*nothing was committed/);
    await mirrored(target, 1);
    await assertSameDate(target, 1);
  });

  test('the source refuses a pull without the right read grant', async () => {
    const target = await newTarget('dst-grant');
    await refused(target, 0, { readGrant: null }, 'STORAGE_ACCESS_DENIED', /PERMISSION_DENIED: .*carries no grant/);
    await refused(target, 0, { readGrant: grant({ backupId: ids[1]!, holder: 'storage:dst-grant' }) }, 'STORAGE_ACCESS_DENIED', /it is for backup/);
    await refused(target, 0, { readGrant: grant({ holder: 'storage:dst' }) }, 'STORAGE_ACCESS_DENIED', /it was issued to storage:dst, not to storage:dst-grant/);
    await refused(target, 0, { readGrant: grant({ action: GrantAction.GRANT_ACTION_WRITE, holder: 'storage:dst-grant' }) }, 'STORAGE_ACCESS_DENIED', /this call needs GRANT_ACTION_READ/);
    const impostor = signerFromPem(generateSigningKeyPair().privatePem, 'impostor');
    await refused(target, 0, { readGrant: grant({ holder: 'storage:dst-grant' }, impostor) }, 'STORAGE_ACCESS_DENIED', /not signed by the coordinator/);
  });

  test('a source whose certificate is not the remote the task names is not read', async () => {
    const target = await newTarget('dst-identity');
    const before = await listTree(target.root);
    const result = await mirror(target, 0, { sourceRemoteId: 'elsewhere', readGrant: grant({ holder: 'storage:dst-identity', remoteId: 'elsewhere' }) });
    assert.equal(result.status, TaskStatus.TASK_STATUS_FAILED);
    assert.match(result.error!.message, /is not storage:elsewhere: its certificate names storage:src/);
    assert.deepEqual(await listTree(target.root), before);
  });

  test('a source that does not answer fails the mirror as retryable, naming it', async () => {
    const target = await newTarget('dst-away');
    const closed = await startStorageServer(testContext(join(folder, 'gone'), 'gone'), { host: '127.0.0.1', port: 0 }, { insecure: true });
    await closed.close();
    const before = await listTree(target.root);
    const result = await mirror(target, 0, { sourceAddress: closed.address });
    assert.equal(result.status, TaskStatus.TASK_STATUS_FAILED);
    assert.deepEqual([result.error?.code, result.error?.retryable], ['SOURCE_CALL_FAILED', true], result.error?.message);
    assert.match(result.error!.message, /from remote src to remote dst-away: storage agent of source remote src: GetBackup failed: UNAVAILABLE/);
    assert.deepEqual(await listTree(target.root), before);
  });

  test('a damaged block on the source fails the mirror with DATA_DAMAGED, in both formats, and the target keeps nothing of it', async () => {
    const target = await newTarget('dst-damage');
    await mirrored(target, 0);
    await mirrored(target, 1);
    // A sector the delta's block marks (its checksum covers the marked sectors only).
    const block = MODEL[2]![0]!;
    const undo = await flipByte(fileOf(source, 2), block.index, block.sectors![0] * SECTOR + 100);
    try {
      await refused(target, 2, {}, 'DATA_DAMAGED', new RegExp(`disk xvda: storage agent of source remote src: GetDisk failed: DATA_LOSS: .*vms/${vmUuid}/disks/xvda/${ids[2]}.vhd block ${block.index} does not match the checksum stored at commit`));
      const fresh = await newTarget('dst-damage-whole');
      await refused(fresh, 2, {}, 'DATA_DAMAGED', /GetDisk failed: DATA_LOSS/);
    } finally {
      await undo();
    }
    await mirrored(target, 2);
    await assertSameDate(target, 2);
  });

  /** Runs `rewrite` on the source's second date (its VHD's table and metadata rewritten as an older writer left them), then puts both files back. */
  async function asAnOlderWriterLeftIt(rewrite: (files: { vhd: string; sumsPath: string; metaPath: string; saved: [Buffer, string] }) => Promise<void>): Promise<void> {
    const vhd = fileOf(source, 1);
    const sumsPath = `${vhd}.sums`;
    const metaPath = source.ctx.layout.metadataPath(vmUuid, ids[1]!);
    const saved: [Buffer, string] = await Promise.all([readFile(sumsPath), readFile(metaPath, 'utf8')]);
    try {
      await rewrite({ vhd, sumsPath, metaPath, saved });
    } finally {
      await writeFile(sumsPath, saved[0]);
      await writeFile(metaPath, saved[1]);
    }
  }

  test('a backup committed before the piece rule (version 1 table, whole-rule chain digest) is served and mirrored by its rules', async () => {
    await asAnOlderWriterLeftIt(async ({ vhd, sumsPath, metaPath, saved }) => {
      // As a storage agent of format version 1 left it: a table without flags (its partly marked
      // blocks checksummed whole) and metadata with that table's digest and a whole-rule chain digest.
      const v1 = await sumsV1OfFile(vhd);
      await writeFile(sumsPath, v1);
      const meta = JSON.parse(saved[1]) as BackupMetadata;
      const table = new DiskDigest();
      for (const entry of decodeSums(v1, 'v1').entries) table.add(entry.index, entry.checksum);
      const disk = { ...meta.disks[0]!, digest: digestHex(table.digest()), chainDigestRule: undefined };
      await writeFile(metaPath, JSON.stringify({ ...meta, version: 2, disks: [disk] }));
      const whole = await computeChainDigest(source.ctx, { vmUuid, backupId: ids[1]!, diskKey: 'xvda', path: vhd }, { rule: 'whole' });
      await writeFile(metaPath, JSON.stringify({ ...meta, version: 2, disks: [{ ...disk, chainDigest: digestHex(whole.digest) }] }));
      const target = await newTarget('dst-legacy');
      await mirrored(target, 0);
      const delta = await mirrored(target, 1);
      assert.deepEqual(delta.disks, [{ diskKey: 'xvda', mode: 'delta', blockCount: MODEL[1]!.length, bytesReceived: ownBytes(MODEL[1]!) }]);
      await assertSameContent(target, 1);
      await assertDelta(target, 1, false); // the copy's table is by the piece rule, the source's by the whole-block one
      const recorded = (await metadataOf(target, 1))!.disks[0]!;
      assert.deepEqual([recorded.chainDigest, recorded.chainDigestRule], [digestHex(digestOfBlocks(foldedDate(MODEL, 1))), 'blake3'], 'the copy records its chain digest by the piece rule');
      const wrong = Buffer.from(whole.digest);
      wrong[31]! ^= 1;
      const other = await newTarget('dst-legacy-wrong');
      await mirrored(other, 0);
      await refused(other, 1, { chainDigest: wrong }, 'MIRROR_DIGEST_MISMATCH', /\(whole rule\)/);
    });
  });

  test('a backup of remote format 5 (SHA-256 pieces) is mirrored by its rule: the copy records the source chain digest as it is', async () => {
    await asAnOlderWriterLeftIt(async ({ vhd, sumsPath, metaPath, saved }) => {
      // As a storage agent of format version 5 left it: SHA-256 piece entries, a `pieces` chain digest.
      const file = await VhdFile.open(vhd);
      const entries: SumsEntry[] = [];
      const table = new DiskDigest();
      try {
        for (const index of file.allocatedBlocks()) {
          const block = (await file.readBlock(index))!;
          const full = isAllOnes(block.bitmap);
          const checksum = piecesChecksum(block.bitmap, pieceHashes('pieces', block.bitmap, block.data, file.blockSize));
          entries.push({ index, checksum, fullBitmap: full, ...(full ? {} : { marked: true }), pieces: 'pieces' });
          table.add(index, checksum);
        }
        await writeFile(sumsPath, encodeSums(file.blockSize, entries));
      } finally {
        await file.close();
      }
      const meta = JSON.parse(saved[1]) as BackupMetadata;
      const tableDigest = digestHex(table.digest());
      await writeFile(metaPath, JSON.stringify({ ...meta, disks: [{ ...meta.disks[0]!, digest: tableDigest }] }));
      const pieces = await computeChainDigest(source.ctx, { vmUuid, backupId: ids[1]!, diskKey: 'xvda', path: vhd }, { rule: 'pieces' });
      assert.equal(digestHex(pieces.digest), digestHex(digestOfBlocks(foldedDate(MODEL, 1), 'pieces')), 'the SHA-256 pieces definition');
      await writeFile(metaPath, JSON.stringify({ ...meta, disks: [{ ...meta.disks[0]!, digest: tableDigest, chainDigest: digestHex(pieces.digest), chainDigestRule: 'pieces' }] }));
      const target = await newTarget('dst-format5');
      await mirrored(target, 0);
      const delta = await mirrored(target, 1);
      assert.deepEqual(delta.disks.map((d) => d.mode), ['delta']);
      await assertSameContent(target, 1);
      const recorded = (await metadataOf(target, 1))!.disks[0]!;
      assert.deepEqual([recorded.chainDigest, recorded.chainDigestRule], [digestHex(pieces.digest), 'pieces'], "the copy's chain digest is the source's, by its rule");
      const copied = decodeSums(await readFile(`${fileOf(target, 1)}.sums`), 'copy').entries;
      assert.ok(copied.length > 0 && copied.every((e) => e.pieces === 'pieces'), "the copy's table follows the source's rule too (the stream carried it)");
    });
  });

  describe('a storage agent process', () => {
    let nats: TestNats;
    let agent: AgentProcess;
    let root: string;

    before(async () => {
      certs.set('dst-process', await pki.issue({ role: 'storage', name: 'dst-process' }, { server: true, file: 'dst-process' }));
      nats = await startTestNats();
      root = join(folder, 'dst-process');
      agent = await startAgentProcess({ folder, root, remoteId: 'dst-process', namespace: nats.namespace, dataPlane: { tls: { ca: pki.ca.cert, ...certs.get('dst-process')! }, coordinatorKey: coordinatorPub } });
    });
    after(async () => {
      await agent?.kill('SIGTERM');
      await nats?.close();
    });

    test('takes a signed mirror task from its queue, pulls from the source with its certificate and commits the copy', async () => {
      const target = { remoteId: 'dst-process', root } as Target;
      for (const n of [0, 1]) {
        const task: Task = { ...storageTask('dst-process', { $case: 'mirror', value: await mirrorTask(target, n) }), expiresAtMs: Date.now() + 600_000 };
        await nats.publish(task, coordinator);
        const event = await resultOf(nats, task.taskId);
        const result = event.body?.$case === 'result' ? event.body.value : assert.fail('not a result');
        assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
        assert.ok(result.output?.$case === 'mirror');
        assert.equal(result.output.value.disks[0]?.mode, n === 0 ? 'full' : 'delta');
      }
      await assertSameDate({ remoteId: 'dst-process', root, ctx: testContext(root, 'dst-process') }, 1);
    });
  });
});

function signedBytes(grant: SignedGrant): Uint8Array {
  return encodeSignedGrant(grant);
}
