// A real storage agent core on loopback for tests: a temporary remote root, the gRPC server
// and a client. `close()` stops both and removes the folder. The server is open (plaintext, as a
// config saying `insecure: true` makes it): the tests on this harness are about what a remote
// stores and serves, and call it with plain clients; who may call is tested against a real
// agent over mutual TLS (test/security-dataplane.test.ts), and the e2e stacks run it so. Also deterministic disk content so tests can compare what they read
// back with what they sent without keeping disks in memory.
import { ChainTermCache } from '../../agent/storage/chain-terms.js';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ChannelCredentials } from '@grpc/grpc-js';
import { createLogger } from '../../shared/logging/index.js';
import { StorageClient, type OutgoingBlock } from '../../shared/grpc/storage-client.js';
import { ChecksumRule, type DiskHeader } from '../../shared/proto/gen/deltachain/storage/v1/disk.js';
import { ActiveUploads } from '../../agent/storage/active-uploads.js';
import { RemoteLayout } from '../../agent/storage/remote-layout.js';
import { RemoteLocks } from '../../agent/storage/remote-locks.js';
import type { RemoteContext } from '../../agent/storage/remote-context.js';
import { startStorageServer, type StorageServer } from '../../agent/storage/storage-server.js';

export const MiB = 1024 * 1024;
export const BLOCK = 2 * MiB;

export interface StorageHarness {
  root: string;
  ctx: RemoteContext;
  server: StorageServer;
  client: StorageClient;
  close(): Promise<void>;
}

export function testContext(root: string, remoteId = 'test-remote'): RemoteContext {
  return {
    remoteId,
    layout: new RemoteLayout(root),
    locks: new RemoteLocks(),
    uploads: new ActiveUploads(),
    chainTerms: new ChainTermCache(),
    logger: createLogger({ level: 'silent', pretty: false }),
    now: () => new Date(),
  };
}

export async function tempRemoteRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'deltachain-storage-'));
}

export async function startStorageHarness(): Promise<StorageHarness> {
  const root = await tempRemoteRoot();
  const ctx = testContext(root);
  await ctx.layout.ensure();
  const server = await startStorageServer(ctx, { host: '127.0.0.1', port: 0 }, { insecure: true });
  const client = new StorageClient(server.address, ChannelCredentials.createInsecure());
  return {
    root,
    ctx,
    server,
    client,
    async close() {
      client.close();
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

const BASE = createHash('sha256').update('deltachain test pattern').digest();

/** Deterministic, distinct-per-(seed, index, page) block content; cheap to regenerate. */
export function patternBlock(seed: number, index: number, blockSize = BLOCK): Buffer {
  const out = Buffer.allocUnsafe(blockSize).fill(BASE);
  for (let page = 0; page < blockSize; page += 4096) {
    out.writeUInt32BE(seed, page);
    out.writeUInt32BE(index, page + 4);
    out.writeUInt32BE(page, page + 8);
  }
  return out;
}

export async function* patternBlocks(seed: number, indexes: Iterable<number>, blockSize = BLOCK): AsyncGenerator<OutgoingBlock> {
  for (const index of indexes) yield { index, data: patternBlock(seed, index, blockSize) };
}

export function diskHeader(overrides: Partial<DiskHeader> & Pick<DiskHeader, 'vmUuid' | 'backupId'>): DiskHeader {
  return {
    diskKey: 'xvda',
    virtualSize: 32 * MiB,
    blockSize: BLOCK,
    footerUuid: randomUUID(),
    parentFooterUuid: '',
    timestampMs: Date.parse('2026-11-26T10:00:00Z'),
    ...overrides,
    checksumRule: overrides.checksumRule ?? ChecksumRule.CHECKSUM_RULE_PIECES_BLAKE3,
  };
}

/** Every file under the root (relative paths, sorted), for "nothing was written" checks. */
export async function listTree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

export function records(vmUuid: string): string {
  return JSON.stringify({
    vm: { uuid: vmUuid, name_label: 'test vm' },
    vmSnapshot: { uuid: randomUUID(), is_a_snapshot: true },
    vbds: [{ userdevice: '0', device: 'xvda' }],
    vdis: [{ name_label: 'disk 0' }],
    vifs: [{ MAC: '00:16:3e:00:00:01', network_uuid: randomUUID() }],
  });
}
