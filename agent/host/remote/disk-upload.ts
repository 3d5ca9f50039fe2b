// One disk being pushed to one remote: a PutDisk stream (the shared storage client computes the
// block checksums, the trailer and applies gRPC flow control) fed block by block through a
// BlockChannel. A failure on the remote side (a refused header, a full disk) rejects the next
// `writeBlock`; `abort` cancels the stream so the storage agent discards its temporary file.
import type { PutDiskResponse } from '../../../shared/proto/gen/deltachain/storage/v1/storage.js';
import type { DiskHeader } from '../../../shared/proto/gen/deltachain/storage/v1/disk.js';
import type { OutgoingBlock, StorageClient } from '../../../shared/grpc/index.js';
import { BlockChannel } from './block-channel.js';
import { StorageCallError } from './storage-call-error.js';

export interface PutDiskResult {
  /** Path of the disk relative to the remote root. */
  path: string;
  fileSize: number;
  blockCount: number;
  digest: Buffer;
}

export class DiskUpload {
  private readonly channel = new BlockChannel<OutgoingBlock>();
  private readonly abortController = new AbortController();
  private readonly response: Promise<PutDiskResponse>;

  constructor(
    private readonly remoteId: string,
    client: StorageClient,
    header: DiskHeader,
    /** gRPC messages in flight, not yet accepted by the transport. */
    window: number,
  ) {
    this.response = client.putDisk(header, this.channel, { window, signal: this.abortController.signal });
    this.response.catch((error: unknown) => this.channel.fail(StorageCallError.from(remoteId, 'PutDisk', error)));
  }

  /** Hands one block over; resolves when the stream took it (backpressure). */
  async writeBlock(index: number, bitmap: Buffer, data: Buffer): Promise<void> {
    await this.channel.push({ index, bitmap, data });
  }

  /** Ends the block list; resolves when the storage agent put the disk in place. */
  async finish(): Promise<PutDiskResult> {
    this.channel.close();
    try {
      const response = await this.response;
      return { path: response.path, fileSize: response.fileSize, blockCount: response.blockCount, digest: Buffer.from(response.digest) };
    } catch (error) {
      throw StorageCallError.from(this.remoteId, 'PutDisk', error);
    }
  }

  abort(): void {
    this.channel.fail(new StorageCallError(this.remoteId, 'PutDisk', 1, 'upload aborted by the host agent'));
    this.abortController.abort();
  }
}
