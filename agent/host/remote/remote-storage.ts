// The host agent's view of one remote: the shared storage client (gRPC, flow control, checksums)
// plus what a task needs around it — the remote id in every error, failures classified by gRPC
// status (StorageCallError), deadlines and retries with backoff on the idempotent unary calls
// (HasBase, ListBackups, CommitBackup of the same backup id); DiscardBackup and a probe (does a
// storage agent that went away answer again?) tried once; push-style uploads (with a leaner
// block encoder, put-disk-client.ts) for fanning one export out to several remotes; for restores,
// a backup's stored records and a disk as one VHD stream of known length (restore's BackupSource).
// A task works through a view of the remote that carries its grant (`withGrant`): every call of
// the view sends the coordinator's grant the task came with, over the remote's shared channels.
// The channels reconnect at least every 5 s while a storage agent is away (grpc-js would back off
// up to 2 minutes), so a restarted one is reached soon after it is back. While a call is open
// they ping every KEEPALIVE_MS and drop a connection whose ping is not answered within as long:
// a cut WAN link sends no reset, and an upload blocked on a dead connection would otherwise wait
// for TCP's retransmission timeout (~15 min) before it could resume (seen too when a proxy closed
// the connection under a blocked HTTP/2 write: the call never ended, test/three-sites.test.ts).
import { Readable } from 'node:stream';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from '../../../shared/logging/index.js';
import { GetDiskFormat, StorageClient, type StorageCallOptions } from '../../../shared/grpc/index.js';
import type { BackupSummary } from '../../../shared/proto/gen/deltachain/storage/v1/backup.js';
import type { DiskHeader } from '../../../shared/proto/gen/deltachain/storage/v1/disk.js';
import type { ChecksumRule } from '../../../shared/grpc/disk-checksum.js';
import { checksumRuleFromWire } from '../../../shared/grpc/checksum-rule.js';
import type { CommitBackupRequest, CommitBackupResponse, GetDiskResponse } from '../../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { DEFAULT_RETRY, retryWithBackoff, type RetryOptions } from '../xapi/retry-with-backoff.js';
import { parseStoredBackup, type StoredBackup } from '../metadata/parse-stored-backup.js';
import type { BandwidthLimits } from '../../../shared/bandwidth.js';
import { DiskUpload } from './disk-upload.js';
import { createPutDiskStub, type PutDiskStub } from './put-disk-client.js';
import { StorageCallError } from './storage-call-error.js';

export interface RemoteEndpoint {
  remoteId: string;
  /** `host:port` of the storage agent. */
  address: string;
  credentials: ChannelCredentials;
}

export interface RemoteStorageOptions {
  /** PutDisk messages in flight per upload (each up to a block). */
  uploadWindow: number;
  /** Deadline of a unary call, milliseconds. */
  callTimeoutMs: number;
  retry?: RetryOptions;
  /** Hears of unary calls that failed and are tried again. */
  logger?: Logger;
  /** Upload bandwidth limits (config `bandwidth.limits`), shared by every remote of the agent. */
  uploadLimits?: BandwidthLimits;
}

/** Channel options of every connection to a storage agent (see the header). */
/** Ping period of a connection with a call open, and how long a ping may go unanswered, ms. */
const KEEPALIVE_MS = 10_000;

export const STORAGE_CHANNEL_OPTIONS = Object.freeze({ 'grpc.initial_reconnect_backoff_ms': 250, 'grpc.max_reconnect_backoff_ms': 5000, 'grpc.keepalive_time_ms': KEEPALIVE_MS, 'grpc.keepalive_timeout_ms': KEEPALIVE_MS });

/** A disk of a backup as one dynamic VHD stream of known length (for `putResource`). */
export interface VhdDownload {
  length: number;
  virtualSize: number;
  /** The rule of the backup's chain digest, which the stream digests to. */
  checksumRule: ChecksumRule;
  stream: Readable;
}

const INTERNAL = 13;
const DEADLINE_EXCEEDED = 4;

/** The gRPC channels of one remote, shared by every view of it. */
interface RemoteChannels {
  client: StorageClient;
  uploads: PutDiskStub;
}

export class RemoteStorage {
  private readonly channels: RemoteChannels;

  constructor(
    readonly endpoint: RemoteEndpoint,
    private readonly options: RemoteStorageOptions,
    /** The grant this view sends with every call (withGrant). */
    private readonly grant?: Uint8Array,
    shared?: RemoteChannels,
  ) {
    this.channels = shared ?? {
      client: new StorageClient(endpoint.address, endpoint.credentials, STORAGE_CHANNEL_OPTIONS),
      uploads: createPutDiskStub(endpoint.address, endpoint.credentials, STORAGE_CHANNEL_OPTIONS),
    };
  }

  get remoteId(): string {
    return this.endpoint.remoteId;
  }

  /** This remote as a task holding `grant` sees it: same channels, the grant on every call.
   * Close the remote, not its views. */
  withGrant(grant: Uint8Array | undefined): RemoteStorage {
    return new RemoteStorage(this.endpoint, this.options, grant, this.channels);
  }

  /** An upload of one disk; with `resume`, it takes up what an earlier try left on the remote when its stream broke. */
  putDisk(header: Omit<DiskHeader, 'checksumRule'>, options: { resume?: boolean } = {}): DiskUpload {
    return new DiskUpload(this.remoteId, this.channels.uploads, header, this.options.uploadWindow, this.grant, this.options.uploadLimits?.forRemote(this.remoteId), options.resume === true);
  }

  commitBackup(request: CommitBackupRequest): Promise<CommitBackupResponse> {
    return this.unary('CommitBackup', () => this.client.commitBackup(request, this.auth));
  }

  async hasBase(vmUuid: string, footerUuid: string): Promise<boolean> {
    return (await this.unary('HasBase', () => this.client.hasBase(vmUuid, footerUuid, this.auth))).found;
  }

  /** Removes what uploads of this uncommitted backup left on the remote; the paths removed. One
   * try (its callers do it best effort, and must not hold a failed backup for minutes). */
  /** `keepParked`: the uploads a broken attempt left are kept for this one to resume. */
  discardBackup(vmUuid: string, backupId: string, options: { keepParked?: boolean } = {}): Promise<string[]> {
    return this.withDeadline('DiscardBackup', () => this.client.discardBackup(vmUuid, backupId, { ...this.auth, keepParked: options.keepParked ?? false }), this.options.callTimeoutMs);
  }

  /** One ListBackups of a VM (cheap: one folder; Stat reads the whole remote), not retried:
   * resolves when the storage agent answers within `timeoutMs`. */
  async probe(vmUuid: string, timeoutMs: number): Promise<void> {
    await this.withDeadline('ListBackups', () => this.client.listBackups(vmUuid, this.auth), timeoutMs);
  }

  listBackups(vmUuid: string): Promise<BackupSummary[]> {
    return this.unary('ListBackups', () => this.client.listBackups(vmUuid, this.auth));
  }

  /** A committed backup's metadata, records included (for restores). */
  async getBackup(vmUuid: string, backupId: string): Promise<StoredBackup> {
    const response = await this.unary('GetBackup', () => this.client.getBackup(vmUuid, backupId, this.auth));
    return parseStoredBackup(response.metadataJson, `backup ${backupId} of VM ${vmUuid} on remote ${this.remoteId}`);
  }

  /** GetDisk as one VHD stream; resolves once the stream's length is known. */
  async getDiskVhd(vmUuid: string, backupId: string, diskKey: string): Promise<VhdDownload> {
    const parts = this.client.getDiskParts(vmUuid, backupId, diskKey, GetDiskFormat.GET_DISK_FORMAT_VHD, this.auth);
    let first: IteratorResult<NonNullable<GetDiskResponse['part']>>;
    try {
      first = await parts.next();
    } catch (error) {
      throw StorageCallError.from(this.remoteId, 'GetDisk', error);
    }
    if (first.done === true || first.value.$case !== 'vhdStart') {
      await parts.return(undefined);
      throw new StorageCallError(this.remoteId, 'GetDisk', INTERNAL, 'the stream did not start with its length (vhdStart)');
    }
    const { length, virtualSize } = first.value.value;
    const checksumRule = checksumRuleFromWire(first.value.value.checksumRule);
    if (checksumRule === undefined) {
      await parts.return(undefined);
      throw new StorageCallError(this.remoteId, 'GetDisk', INTERNAL, `the stream's chain digest follows checksum rule ${first.value.value.checksumRule}, which this host agent does not know; upgrade it`);
    }
    return { length, virtualSize, checksumRule, stream: Readable.from(this.vhdChunks(parts, length), { objectMode: false }) };
  }

  close(): void {
    this.channels.client.close();
    this.channels.uploads.close();
  }

  private get client(): StorageClient {
    return this.channels.client;
  }

  private get auth(): StorageCallOptions {
    return { grant: this.grant };
  }

  private async *vhdChunks(parts: AsyncGenerator<NonNullable<GetDiskResponse['part']>>, length: number): AsyncGenerator<Buffer> {
    let received = 0;
    try {
      for (;;) {
        let next: IteratorResult<NonNullable<GetDiskResponse['part']>>;
        try {
          next = await parts.next();
        } catch (error) {
          throw StorageCallError.from(this.remoteId, 'GetDisk', error);
        }
        if (next.done === true) break;
        if (next.value.$case !== 'vhdChunk') throw new StorageCallError(this.remoteId, 'GetDisk', INTERNAL, `unexpected ${next.value.$case} message in a VHD stream`);
        const chunk = next.value.value;
        received += chunk.length;
        if (received > length) throw new StorageCallError(this.remoteId, 'GetDisk', INTERNAL, `the stream is longer than its announced ${length} bytes`);
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      }
      if (received !== length) throw new StorageCallError(this.remoteId, 'GetDisk', INTERNAL, `the stream ended after ${received} of ${length} bytes`);
    } finally {
      await parts.return(undefined);
    }
  }

  private unary<T>(rpc: string, call: () => Promise<T>): Promise<T> {
    return retryWithBackoff(() => this.withDeadline(rpc, call, this.options.callTimeoutMs), this.options.retry ?? DEFAULT_RETRY, {
      isTransient: (error) => error instanceof StorageCallError && error.retryable,
      onRetry: (error, attempt, delayMs) =>
        this.options.logger?.warn({ remote: this.remoteId, rpc, attempt, delayMs, status: (error as StorageCallError).grpcStatus, reason: (error as Error).message }, 'storage call failed, retrying'),
    });
  }

  private async withDeadline<T>(rpc: string, call: () => Promise<T>, timeoutMs: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StorageCallError(this.remoteId, rpc, DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([call(), deadline]);
    } catch (error) {
      throw StorageCallError.from(this.remoteId, rpc, error);
    } finally {
      clearTimeout(timer);
    }
  }
}
