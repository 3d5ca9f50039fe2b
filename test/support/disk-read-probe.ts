// One GetDisk read as a client sees it, reduced to what a test compares: whether the stream
// completed, the content digest of what it delivered (merge-reads-model.ts, ContentDigest) and
// when it started, got its first part (the server had opened the chain) and ended. A BLOCKS read
// is also checked for self-consistency (each block's checksum, the trailer's count and digest), as
// a restoring host agent would; a VHD read is parsed by the VHD stream parser (footer to footer).
// `hold`, when given, is called after the first part and awaited: the reader stops pulling, so the
// server keeps the chain open and reads ahead only what gRPC buffers — with StorageClient's 8 MiB
// flow-control window that is a whole small disk, so a paused reader uses `smallWindowParts`
// (gRPC's default 64 KiB window: the server stops some 32 blocks of 4 KiB ahead).
import { ChannelCredentials } from '@grpc/grpc-js';
import { DiskDigest, ruleChecksum, type ChecksumRule } from '../../shared/grpc/disk-checksum.js';
import { ruleOf } from './storage-chain-fixture.js';
import { GetDiskFormat, MAX_MESSAGE_BYTES } from '../../shared/grpc/storage-client.js';
import { StorageServiceClient, type GetDiskResponse } from '../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { errorMessage } from '../../shared/errors.js';
import { parseVhdStream } from '../../shared/vhd/stream-parser.js';
import { ContentDigest } from './merge-reads-model.js';

export type ReadFormat = 'blocks' | 'vhd';
type Part = NonNullable<GetDiskResponse['part']>;
/** GetDisk as parts, like `StorageClient.getDiskParts`; returning early cancels the call. */
export type PartSource = (vmUuid: string, backupId: string, diskKey: string, format: GetDiskFormat) => AsyncGenerator<Part>;

/** A GetDisk client with gRPC's default flow-control window; `close()` when done. */
export function smallWindowParts(address: string): { parts: PartSource; close(): void } {
  const client = new StorageServiceClient(address, ChannelCredentials.createInsecure(), { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  async function* parts(vmUuid: string, backupId: string, diskKey: string, format: GetDiskFormat): AsyncGenerator<Part> {
    const call = client.getDisk({ vmUuid, backupId, diskKey, format });
    try {
      for await (const message of call as AsyncIterable<GetDiskResponse>) if (message.part) yield message.part;
    } finally {
      call.cancel();
    }
  }
  return { parts, close: () => client.close() };
}

export interface ReadOutcome {
  format: ReadFormat;
  backupId: string;
  /** The stream completed and passed its own checks; `digest` is what it delivered. */
  ok: boolean;
  digest?: string;
  /** Why the read failed (a cut stream, NOT_FOUND, …) or which self-check it broke. */
  error?: string;
  /** Set when the stream completed but contradicts itself (checksums, trailer). */
  inconsistent?: string;
  startedAt: number;
  openedAt?: number;
  endedAt: number;
}

export async function readDisk(source: PartSource, vmUuid: string, backupId: string, format: ReadFormat, hold?: () => Promise<unknown>): Promise<ReadOutcome> {
  const outcome: ReadOutcome = { format, backupId, ok: false, startedAt: Date.now(), endedAt: 0 };
  const opened = async (): Promise<void> => {
    outcome.openedAt = Date.now();
    await hold?.();
  };
  try {
    const read = format === 'blocks' ? readBlocks : readVhd;
    const { digest, inconsistent } = await read(source, vmUuid, backupId, opened);
    Object.assign(outcome, { ok: true, digest, inconsistent });
  } catch (error) {
    outcome.error = errorMessage(error);
  }
  outcome.endedAt = Date.now();
  return outcome;
}

interface Delivered {
  digest: string;
  inconsistent?: string;
}

async function readBlocks(source: PartSource, vm: string, backupId: string, opened: () => Promise<void>): Promise<Delivered> {
  const content = new ContentDigest();
  const digest = new DiskDigest();
  let size = -1;
  const problems: string[] = [];
  let rule: ChecksumRule = 'whole';
  for await (const part of source(vm, backupId, 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
    if (part.$case === 'header') {
      size = part.value.virtualSize;
      rule = ruleOf(part.value.checksumRule);
      await opened();
    } else if (part.$case === 'block') {
      const { index, bitmap, data, checksum } = part.value;
      const sum = ruleChecksum(rule, bitmap, data, data.length);
      if (!sum.equals(checksum)) problems.push(`block ${index}: checksum does not match its bytes`);
      digest.add(index, sum);
      content.add(index, withUnmarkedZeroed(Buffer.from(data), bitmap));
    } else if (part.$case === 'trailer') {
      if (part.value.blockCount !== digest.count) problems.push(`trailer counts ${part.value.blockCount} blocks, ${digest.count} came`);
      if (!digest.digest().equals(part.value.digest)) problems.push('trailer digest does not match the blocks');
      return { digest: content.hex(size), inconsistent: problems.length > 0 ? problems.join('; ') : undefined };
    }
  }
  throw new Error('the stream ended without a trailer');
}

async function readVhd(source: PartSource, vm: string, backupId: string, opened: () => Promise<void>): Promise<Delivered> {
  const parts = source(vm, backupId, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD);
  try {
    const first = await parts.next();
    if (first.done || first.value.$case !== 'vhdStart') throw new Error('the stream did not start with vhdStart');
    await opened();
    const chunks = (async function* () {
      for await (const part of parts) if (part.$case === 'vhdChunk') yield Buffer.from(part.value);
    })();
    const stream = await parseVhdStream(chunks, { where: `GetDisk VHD of ${backupId}` });
    const content = new ContentDigest();
    for await (const block of stream.blocks()) content.add(block.index, withUnmarkedZeroed(block.data, block.bitmap));
    return { digest: content.hex(stream.footer.currentSize) };
  } finally {
    await parts.return(undefined);
  }
}

/** A dynamic disk's unmarked sector reads as zeros. */
function withUnmarkedZeroed(data: Buffer, bitmap: Uint8Array): Buffer {
  for (let s = 0; s < data.length / 512; s++) if (((bitmap[s >> 3]! >> (7 - (s & 7))) & 1) === 0) data.fill(0, s * 512, (s + 1) * 512);
  return data;
}
