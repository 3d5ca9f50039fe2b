// Attacks on what a storage agent and the VHD reader spend, against real processes: the storage
// agent's gRPC server on loopback, the `deltachain vhd` CLI in a child process. Each is refused
// with nothing left on the remote: an oversize PutDisk header (no memory spent on it), an idle
// stream (cancelled, its files and folders removed), a remote below its free-space floor, more
// concurrent uploads than a caller may run, a VHD with a huge sparse BAT, a parent locator
// leading outside the disk's folder, and a symlink that makes a chain loop.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { ChannelCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { startStorageServer, type StorageServer } from '../agent/storage/storage-server.js';
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits } from '../agent/storage/upload-limits.js';
import { StorageClient, type OutgoingBlock } from '../shared/grpc/storage-client.js';
import { ChainReader, DiskType, VhdWriter } from '../shared/vhd/index.js';
import { encodeFooter, encodeHeader, newFooter, newHeader } from '../shared/vhd/format/index.js';
import { checkVhdChain } from '../shared/vhd/tools/check-vhd-chain.js';
import { MiB, diskHeader, listTree, patternBlocks, tempRemoteRoot, testContext } from './support/storage-harness.js';

const run = promisify(execFile);
const GiB = 1024 * MiB;

async function refused(promise: Promise<unknown>, code: status, message: RegExp): Promise<ServiceError> {
  let caught: ServiceError | undefined;
  await promise.catch((error: ServiceError) => (caught = error));
  assert.ok(caught, 'the call was refused');
  assert.equal(caught.code, code, `${status[caught.code]}: ${caught.details}`);
  assert.match(caught.details, message);
  return caught;
}

/** Blocks that never come: the stream stays open until `stop` resolves. */
async function* stalled(stop: Promise<void>): AsyncGenerator<OutgoingBlock> {
  await stop;
}

async function server(limits: Partial<UploadLimits>): Promise<{ root: string; server: StorageServer; client: StorageClient; close(): Promise<void> }> {
  const root = await tempRemoteRoot();
  const ctx = { ...testContext(root, 'bounded'), limits: { ...DEFAULT_UPLOAD_LIMITS, freeSpaceFloorBytes: 0, ...limits } };
  await ctx.layout.ensure();
  const s = await startStorageServer(ctx, { host: '127.0.0.1', port: 0 }, { insecure: true });
  const client = new StorageClient(s.address, ChannelCredentials.createInsecure());
  return {
    root,
    server: s,
    client,
    close: async () => {
      client.close();
      await s.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

describe('storage agent bounds (real gRPC on loopback)', () => {
  test('an oversize header (2040 GiB in 4 KiB blocks) is refused before any memory or disk is spent', async () => {
    const s = await server({});
    try {
      const before = process.memoryUsage().rss;
      for (let i = 0; i < 3; i++) {
        const vm = randomUUID();
        await refused(
          s.client.putDisk(diskHeader({ vmUuid: vm, backupId: `20261208T00000${i}Z-huge`, virtualSize: 2040 * GiB, blockSize: 4096 }), []),
          status.INVALID_ARGUMENT,
          /needs 534773760 BAT entries, past the limit of 16777216; send larger blocks/,
        );
      }
      const grown = process.memoryUsage().rss - before;
      assert.ok(grown < 64 * MiB, `RSS grew by ${Math.round(grown / MiB)} MiB`);
      assert.deepEqual((await listTree(s.root)).filter((p) => p.startsWith('vms/') || p.includes('.vhd')), []);
    } finally {
      await s.close();
    }
  });

  test('an idle upload is cancelled after idleSeconds and leaves nothing behind', async () => {
    const s = await server({ idleSeconds: 1 });
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    try {
      const vm = randomUUID();
      const started = Date.now();
      const call = s.client.putDisk(diskHeader({ vmUuid: vm, backupId: '20261208T000000Z-idle' }), stalled(stopped));
      await refused(call, status.RESOURCE_EXHAUSTED, /no message for 1 s \(storage\.limits\.idleSeconds\): the upload was cancelled and nothing was kept/);
      assert.ok(Date.now() - started < 10_000);
      assert.deepEqual((await listTree(s.root)).filter((p) => p.includes(vm)), [], 'no file nor folder of the upload');
    } finally {
      stop();
      await s.close();
    }
  });

  test('a remote below its free-space floor refuses an upload before writing, saying so', async () => {
    const s = await server({ freeSpaceFloorBytes: Number.MAX_SAFE_INTEGER });
    try {
      const vm = randomUUID();
      const error = await refused(
        s.client.putDisk(diskHeader({ vmUuid: vm, backupId: '20261208T000000Z-full' }), patternBlocks(1, [0, 1])),
        status.RESOURCE_EXHAUSTED,
        /^remote bounded has \d+ bytes free at .*, below the floor of \d+ bytes \(storage\.limits\.freeSpaceFloorBytes\): disk xvda of backup 20261208T000000Z-full refused before writing/,
      );
      assert.deepEqual(error.metadata.get('deltachain-error-code'), ['REMOTE_FULL']);
      assert.deepEqual((await listTree(s.root)).filter((p) => p.includes(vm)), []);
    } finally {
      await s.close();
    }
  });

  test('more concurrent uploads than a caller may run are refused; the first is unaffected', async () => {
    const s = await server({ uploadsPerPeer: 1 });
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    try {
      const first = s.client.putDisk(diskHeader({ vmUuid: randomUUID(), backupId: '20261208T000000Z-one' }), stalled(stopped));
      first.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const vm = randomUUID();
      await refused(
        s.client.putDisk(diskHeader({ vmUuid: vm, backupId: '20261208T000000Z-two' }), patternBlocks(2, [0])),
        status.RESOURCE_EXHAUSTED,
        /caller at .* already has 1 uploads running, the limit per caller \(storage\.limits\.uploadsPerPeer\)/,
      );
      assert.deepEqual((await listTree(s.root)).filter((p) => p.includes(vm)), []);
    } finally {
      stop();
      await s.close();
    }
  });
});

describe('VHD reader bounds', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dc-vhd-bounds-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('`vhd info` on an 8 KiB sparse file claiming 2040 GiB in 4 KiB blocks refuses clearly, in bounded memory', async () => {
    const path = join(dir, 'huge-bat.vhd');
    const size = 2040 * GiB;
    const entries = size / 4096;
    const footer = encodeFooter(newFooter({ diskType: DiskType.Dynamic, currentSize: size, uuid: randomUUID() }));
    const header = encodeHeader(newHeader({ tableOffset: 2048, maxTableEntries: entries, blockSize: 4096 }));
    const file = await open(path, 'w');
    await file.write(footer, 0, footer.length, 0);
    await file.write(header, 0, header.length, 512);
    await file.truncate(2048 + entries * 4 + 512); // sparse: the claimed table "fits"
    await file.write(footer, 0, footer.length, 2048 + entries * 4);
    await file.close();
    // The CLI in a child process, reporting its peak RSS (KiB) as it exits.
    const probe = `data:text/javascript,process.on('exit', () => process.stderr.write('MAXRSS=' + process.resourceUsage().maxRSS + '\\n'));`;
    const result = await run(process.execPath, ['--import', probe, 'bin/deltachain.mjs', 'vhd', 'info', path], { cwd: process.cwd() }).then(
      () => assert.fail('vhd info accepted the file'),
      (error: { stderr: string; code: number }) => error,
    );
    assert.match(result.stderr, /BAT of 534773760 entries is past the limit of 16777216/);
    const maxRssKiB = Number(/MAXRSS=(\d+)/.exec(result.stderr)?.[1]);
    assert.ok(maxRssKiB > 0 && maxRssKiB < 300 * 1024, `peak RSS ${Math.round(maxRssKiB / 1024)} MiB`);
  });

  async function writeDisk(path: string, uuid: string, parent?: { uuid: string; relativeName: string }): Promise<void> {
    const writer = await VhdWriter.create({
      path,
      diskType: parent ? DiskType.Differencing : DiskType.Dynamic,
      currentSize: 4 * MiB,
      uuid,
      blockSize: 2 * MiB,
      ...(parent ? { parent: { ...parent, timestamp: 0 } } : {}),
    });
    await writer.writeBlock(0, Buffer.alloc(2 * MiB, 7));
    await writer.finish();
  }

  test('a parent locator leading outside the disk folder is refused by `vhd check` and the chain reader', async () => {
    const victimUuid = randomUUID();
    await mkdir(join(dir, 'outside'));
    await mkdir(join(dir, 'chain'));
    await writeDisk(join(dir, 'outside', 'victim.vhd'), victimUuid);
    const child = join(dir, 'chain', 'child.vhd');
    await writeDisk(child, randomUUID(), { uuid: victimUuid, relativeName: '../outside/victim.vhd' });
    const report = await checkVhdChain(child);
    assert.equal(report.ok, false);
    assert.match(report.problem!.reason, /parent "\.\.\/outside\/victim\.vhd" resolves to .*outside\/victim\.vhd, outside the disk's folder/);
    await assert.rejects(ChainReader.open(child), /outside the disk's folder/);
    // A symlink in the folder leading outside is no way around it.
    await symlink(join(dir, 'outside', 'victim.vhd'), join(dir, 'chain', 'link.vhd'));
    const viaLink = join(dir, 'chain', 'child-link.vhd');
    await writeDisk(viaLink, randomUUID(), { uuid: victimUuid, relativeName: './link.vhd' });
    assert.match((await checkVhdChain(viaLink)).problem!.reason, /resolves to .*outside\/victim\.vhd, outside the disk's folder/);
  });

  test('a loop through a symlink is detected by the file identity', async () => {
    const folder = join(dir, 'loop');
    await mkdir(folder);
    const uuid = randomUUID();
    // The disk names "alias.vhd" as its parent, and alias.vhd is the disk itself.
    await writeDisk(join(folder, 'disk.vhd'), uuid, { uuid, relativeName: './alias.vhd' });
    await symlink('disk.vhd', join(folder, 'alias.vhd'));
    const report = await checkVhdChain(join(folder, 'disk.vhd'));
    assert.equal(report.ok, false);
    assert.match(report.problem!.reason, /is already in the chain: the chain loops/);
    await assert.rejects(ChainReader.open(join(folder, 'disk.vhd')), /already in the chain \(loop\)/);
    // Through a symlinked folder: same file, other name.
    await symlink(folder, join(dir, 'loop-link'));
    const viaFolder = await checkVhdChain(join(dir, 'loop-link', 'disk.vhd'));
    assert.match(viaFolder.problem!.reason, /the chain loops/);
  });
});
