// One disk being pushed to one remote: a PutDisk stream — a header, blocks in ascending index
// order, a trailer (block count and digest, docs/remote-format.md section 6). Backpressure: at most
// `window` block messages are handed to gRPC and not yet flushed to the transport (each write's
// callback), so a slow remote slows the export and the memory held per disk stays bounded (about
// window × block size). A failure on the remote side (a refused header, a full disk) rejects the
// next `writeBlock`; `abort` cancels the stream so the storage agent discards its temporary file.
// Each block message is encoded here from the block's data or, for a packed block, its parts (the
// NBD replies, never joined first), one frame prefix in, into buffers reused across the upload
// (ReusedBuffers, given back once the write called back: a block message larger than the retry
// buffer is sent from its buffer as it is, framed-message.ts): every new Buffer counts towards V8's external memory,
// whose growth starts young- and old-generation collections. On a scattered CBT delta the host
// agent's CPU went from 3.33–3.70 s to 3.24–3.39 s with the same peak RSS (186–193 MiB); an
// earlier measurement on the agent bench saw peak RSS 10–20 MiB higher in one run of four.
import type { ClientWritableStream } from '@grpc/grpc-js';
import { DiskDigest, grantMetadata, ruleChecksum, WRITE_RULE } from '../../../shared/grpc/index.js';
import { blockMessageSize, encodeBlockInto } from '../../../shared/grpc/put-disk-encoding.js';
import { FRAME_PREFIX_BYTES, FramedMessage, writeFramePrefix } from '../../../shared/grpc/framed-message.js';
import { bitmapSize } from '../../../shared/vhd/index.js';
import type { DiskHeader } from '../../../shared/proto/gen/deltachain/storage/v1/disk.js';
import { checksumRuleToWire } from '../../../shared/grpc/checksum-rule.js';
import type { PutDiskRequest, PutDiskResponse } from '../../../shared/proto/gen/deltachain/storage/v1/storage.js';
import type { PutDiskStub } from './put-disk-client.js';
import { StorageCallError } from './storage-call-error.js';
import { ReusedBuffers } from '../../../shared/reused-buffers.js';
import { RESUMABLE_KEY, RESUME_AFTER_KEY, RESUME_KEY } from '../../../shared/grpc/upload-resume.js';

export interface PutDiskResult {
  /** Path of the disk relative to the remote root. */
  path: string;
  fileSize: number;
  blockCount: number;
  /** The disk digest of the blocks this upload streamed, computed here. */
  digest: Buffer;
}

const CANCELLED = 1;
/** How long a resumed upload waits for the storage agent to say where to resume. */
const RESUME_ANSWER_MS = 15_000;

export class DiskUpload {
  private readonly digest = new DiskDigest();
  private readonly buffers = new ReusedBuffers();
  private readonly call: ClientWritableStream<PutDiskRequest>;
  private readonly response: Promise<PutDiskResponse>;
  private inFlight = 0;
  private readonly drained: Array<() => void> = [];
  private failure: StorageCallError | undefined;
  private abortedFirst = false;
  private readonly blockSize: number;
  /** Resuming: the index of the last block the remote holds, once its answer has come. */
  private resumeAfter: Promise<number> | undefined;
  /** Blocks up to this index are on the remote already (counted into the digest, not sent). */
  private skipThrough = -1;
  /** Blocks and bytes not sent because the remote held them (a resumed upload). */
  readonly skipped = { blocks: 0, bytes: 0 };

  constructor(
    private readonly remoteId: string,
    stub: PutDiskStub,
    header: Omit<DiskHeader, 'checksumRule'>,
    private readonly window: number,
    /** The task's grant, sent as the stream's metadata. */
    grant: Uint8Array | undefined,
    /** Waits until a block of so many bytes may go (bandwidth.ts); none: as fast as the remote takes them. */
    private readonly throttle?: (bytes: number) => Promise<void>,
    /** Take up what an earlier try of this disk left on the remote when its stream broke (upload-resume.ts). */
    resume = false,
  ) {
    let call!: ClientWritableStream<PutDiskRequest>;
    const metadata = grantMetadata(grant);
    metadata.set(RESUMABLE_KEY, '1');
    if (resume) metadata.set(RESUME_KEY, '1');
    this.response = new Promise<PutDiskResponse>((resolve, reject) => {
      call = stub.putDisk(metadata, (error, value) => (error === null && value !== undefined ? resolve(value) : reject(error)));
    });
    this.call = call;
    if (resume) {
      this.resumeAfter = new Promise<number>((resolve) => {
        // A storage agent that does not know resumes never answers before the response: after
        // RESUME_ANSWER_MS the whole disk is sent (should the answer come later, the agent refuses
        // the block that repeats one it holds, and the upload fails cleanly).
        const timer = setTimeout(() => resolve(-1), RESUME_ANSWER_MS);
        call.once('metadata', (answer) => {
          clearTimeout(timer);
          const after = Number(answer.get(RESUME_AFTER_KEY)[0] ?? -1);
          resolve(Number.isSafeInteger(after) && after >= -1 ? after : -1);
        });
        this.response.catch(() => (clearTimeout(timer), resolve(-1)));
      });
    }
    this.blockSize = header.blockSize;
    this.call.on('error', (error) => this.fail(error));
    this.response.catch((error: unknown) => this.fail(error));
    // Checksums by the writers' piece rule (docs/remote-format.md §6): what lets the commit compose
    // a changed block's chain-digest term without reading the parent's data.
    this.call.write({ part: { $case: 'header', value: { ...header, checksumRule: checksumRuleToWire(WRITE_RULE) } } });
  }

  /**
   * Sends one block (with `packed`, `data` holds only the sectors `bitmap` marks); resolves when
   * the stream can take the next one. `bitmap` and `data` are checksummed (unless `checksum` is
   * given: uploadChecksum's, for the same block) and encoded before the first await, so the
   * caller may reuse them as soon as this returns its promise.
   */
  async writeBlock(index: number, bitmap: Buffer, data: Buffer | readonly Buffer[], packed = false, checksum = uploadChecksum(this.blockSize, bitmap, data, packed)): Promise<void> {
    this.throwIfFailed();
    this.digest.add(index, checksum);
    // Encoded here, packed data from its parts: the one copy before gRPC frames it (the serializer passes a Buffer through).
    const fields = { index, bitmap, data, checksum, packed };
    const size = blockMessageSize(fields);
    if (this.resumeAfter === undefined && index <= this.skipThrough) return this.skip(size);
    // One frame prefix in, so that gRPC sends the buffer as it is (framed-message.ts).
    const out = this.buffers.take(FRAME_PREFIX_BYTES + size);
    encodeBlockInto(out.subarray(FRAME_PREFIX_BYTES), fields);
    writeFramePrefix(out, 0, size);
    const message = new FramedMessage(out.subarray(0, FRAME_PREFIX_BYTES + size));
    if (this.resumeAfter !== undefined) {
      // The first block waits for where to resume, encoded first (the caller may reuse its data).
      this.skipThrough = await this.resumeAfter;
      this.resumeAfter = undefined;
      this.throwIfFailed();
      if (index <= this.skipThrough) {
        this.buffers.give(out);
        return this.skip(size);
      }
    }
    if (this.throttle !== undefined) {
      await this.throttle(size);
      if (this.failure !== undefined) {
        this.buffers.give(out);
        throw this.failure;
      }
    }
    this.inFlight++;
    this.call.write(message as unknown as PutDiskRequest, () => (this.buffers.give(out), this.onFlushed()));
    while (this.inFlight >= this.window && this.failure === undefined) {
      await new Promise<void>((resolve) => this.drained.push(resolve));
    }
    this.throwIfFailed();
  }

  /** Sends the trailer and waits for the storage agent to put the disk in place. */
  async finish(): Promise<PutDiskResult> {
    this.throwIfFailed();
    const digest = this.digest.digest();
    this.call.write({ part: { $case: 'trailer', value: { blockCount: this.digest.count, digest } } });
    this.call.end();
    try {
      const response = await this.response;
      // The digest this agent computed while streaming, not the storage agent's answer: it is what
      // the commit asks the storage agent to check the received file against.
      return { path: response.path, fileSize: response.fileSize, blockCount: response.blockCount, digest };
    } catch (error) {
      throw StorageCallError.from(this.remoteId, 'PutDisk', error);
    }
  }

  /** How the storage agent side failed (refused, went away, full), if it did before any abort. */
  get remoteFailure(): StorageCallError | undefined {
    return this.abortedFirst ? undefined : this.failure;
  }

  /** Abandons the stream: the storage agent discards the temporary file. */
  abort(): void {
    this.abortedFirst = this.failure === undefined;
    this.fail(new StorageCallError(this.remoteId, 'PutDisk', CANCELLED, 'upload aborted by the host agent'));
    this.call.cancel();
  }

  /** A block on the remote already: its checksum is in the digest, as the remote's is in its own. */
  private skip(bytes: number): void {
    this.skipped.blocks++;
    this.skipped.bytes += bytes;
  }

  private onFlushed(): void {
    this.inFlight--;
    this.drained.shift()?.();
  }

  private fail(error: unknown): void {
    this.failure ??= StorageCallError.from(this.remoteId, 'PutDisk', error);
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * The checksum a block is sent with (the writers' piece rule, docs/remote-format.md §6): computed once per
 * block by a caller sending it to several remotes, and passed to each upload's writeBlock.
 */
export function uploadChecksum(blockSize: number, bitmap: Buffer, data: Buffer | readonly Buffer[], packed: boolean): Buffer {
  // An empty bitmap means every sector present: the storage agent checks it as the full one.
  return ruleChecksum(WRITE_RULE, bitmap.length === 0 ? fullBitmap(blockSize) : bitmap, data, blockSize, packed);
}

function fullBitmap(blockSize: number): Buffer {
  return Buffer.alloc(bitmapSize(blockSize), 0xff);
}
