// A typed client of a storage agent's data plane (proto/deltachain/storage/v1). Used by host
// agents (push, restore), mirrors and tests.
//
// putDisk streams blocks with backpressure end to end: at most `window` messages (default 4) are
// handed to the HTTP/2 stream and not yet accepted; the next block is pulled from the source only
// when one is accepted, so a slow remote disk slows the reader of the source. Checksums and the
// disk digest are computed here (disk-checksum.ts). Block messages are encoded into buffers
// reused across the upload (put-disk-encoding.ts): no fresh 2 MiB allocation per block besides
// grpc-js's own frame. A delta's blocks may travel packed — only the sectors their bitmap marks
// (packed-block.ts; docs/remote-format.md §7) — when the caller hands them packed or asks for
// partially marked whole blocks to be packed (`packPartialBlocks`). getDisk streams are pulled
// the same way. A caller holding the coordinator's grant for a call passes it (`grant`) and it
// travels as the call's metadata.
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { ChannelCredentials, ClientReadableStream, ClientWritableStream, ServiceError } from '@grpc/grpc-js';
import { makeGenericClientConstructor, status } from '@grpc/grpc-js';
import type { BackupSummary } from '../proto/gen/deltachain/storage/v1/backup.js';
import type { DiskHeader } from '../proto/gen/deltachain/storage/v1/disk.js';
import { WireChecksumRule, checksumRuleFromWire, checksumRuleToWire } from './checksum-rule.js';
import {
  GetDiskFormat,
  StorageServiceClient,
  StorageServiceService,
  type CommitBackupRequest,
  type SentDisk,
  type CommitBackupResponse,
  type DiscardBackupResponse,
  type GetBackupResponse,
  type GetDiskResponse,
  type HasBaseResponse,
  type ListBackupsResponse,
  type PutDiskRequest,
  type PutDiskResponse,
  type StatResponse,
} from '../proto/gen/deltachain/storage/v1/storage.js';
import { DiskDigest, ruleChecksum, WRITE_RULE, type ChecksumRule } from './disk-checksum.js';
import { grantMetadata, type StorageCallOptions } from './grant-metadata.js';
import { BASE_WINDOW_BYTES, installClientWindowTuning } from './http2-windows.js';
import { markedSectors, packBlock } from './packed-block.js';
import { PUT_DISK_RETRY_BUFFER_BYTES, blockMessageSize, encodeBlockInto, serializePutDiskRequest, type BlockFields, type EncodedPutDiskRequest } from './put-disk-encoding.js';
import { ReusedBuffers } from '../reused-buffers.js';

/** The generated client with PutDisk's block messages serialized by put-disk-encoding.ts. */
const FastStorageServiceClient = makeGenericClientConstructor(
  { ...StorageServiceService, putDisk: { ...StorageServiceService.putDisk, requestSerialize: serializePutDiskRequest } },
  'deltachain.storage.v1.StorageService',
) as unknown as typeof StorageServiceClient;

/** Largest message either side accepts: a 64 MiB block plus its bitmap and framing. */
export const MAX_MESSAGE_BYTES = 66 * 1024 * 1024;

export interface OutgoingBlock {
  index: number;
  /** The whole block (block_size bytes); with `packed`, only the sectors `bitmap` marks, in order. */
  data: Uint8Array;
  /** Omitted or empty: every sector present (whole blocks only). */
  bitmap?: Uint8Array;
  /** `data` is packed: the marked sectors only, 512 bytes each. A delta's blocks only; needs `bitmap`. */
  packed?: boolean;
}

export interface PutDiskOptions extends StorageCallOptions {
  /** Messages handed to gRPC and not yet accepted by the transport (default 4). */
  window?: number;
  signal?: AbortSignal;
  /** Called after each block is accepted: blocks and data bytes sent so far. */
  onProgress?: (blocks: number, bytes: number) => void;
  /**
   * A delta only: send each whole block whose bitmap leaves sectors unmarked packed (only its
   * marked sectors); one that marks no sector changes nothing and is not sent. A full's blocks
   * are always whole.
   */
  packPartialBlocks?: boolean;
}

export class StorageClient {
  readonly #client: InstanceType<typeof StorageServiceClient>;
  /** What this client streamed per `<vm>/<backup>/<disk>`: CommitBackup's sent_disks when a request has none. */
  readonly #sent = new Map<string, SentDisk>();

  /** `channelOptions` are added to the defaults (e.g. a shorter reconnect backoff). */
  constructor(address: string, credentials: ChannelCredentials, channelOptions: Record<string, number> = {}) {
    installClientWindowTuning(); // GetDisk over a long round trip
    this.#client = new FastStorageServiceClient(address, credentials, {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc-node.flow_control_window': BASE_WINDOW_BYTES,
      ...channelOptions,
      // PutDisk's serializer sends a FramedMessage larger than this uncopied (put-disk-encoding.ts).
      'grpc.per_rpc_retry_buffer_size': PUT_DISK_RETRY_BUFFER_BYTES,
    });
  }

  close(): void {
    this.#client.close();
  }

  async putDisk(header: PutDiskHeader, blocks: AsyncIterable<OutgoingBlock> | Iterable<OutgoingBlock>, options: PutDiskOptions = {}): Promise<PutDiskResponse> {
    let call: ClientWritableStream<PutDiskRequest> | undefined;
    const result = new Promise<PutDiskResponse>((resolve, reject) => {
      call = this.#client.putDisk(grantMetadata(options.grant), (error: ServiceError | null, response?: PutDiskResponse) =>
        error ? reject(error) : resolve(response!),
      );
    });
    const stream = call!;
    const onAbort = (): void => void stream.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const sending = sendDisk(stream, { ...header, checksumRule: header.checksumRule ?? checksumRuleToWire(WRITE_RULE) }, blocks, options).then((digest) => {
      const key = sentKey(header.vmUuid, header.backupId, header.diskKey);
      this.#sent.set(key, { diskKey: header.diskKey, footerUuid: header.footerUuid, virtualSize: header.virtualSize, digest });
    });
    sending.catch(() => undefined);
    result.catch(() => undefined);
    try {
      // The server may answer (e.g. refuse the header) while blocks are still being sent.
      await Promise.race([sending, result]);
      await sending;
      return await result;
    } catch (error) {
      stream.cancel();
      // Prefer the server's status (why it refused) over the local write error it caused — but
      // not the CANCELLED that the cancel above gives a call the server had not refused.
      const serverError = await Promise.race([result.then(() => undefined, (e: unknown) => e), delay(200)]);
      throw serverError === undefined || (serverError as Partial<ServiceError>).code === status.CANCELLED ? error : serverError;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * CommitBackup. A request without `sentDisks` gets, for each of its disk keys, what this client
   * streamed by `putDisk` (footer uuid, virtual size, the digest computed while streaming).
   */
  commitBackup(request: Omit<CommitBackupRequest, 'sentDisks'> & { sentDisks?: SentDisk[] }, options: StorageCallOptions = {}): Promise<CommitBackupResponse> {
    const sentDisks = request.sentDisks !== undefined && request.sentDisks.length > 0
      ? request.sentDisks
      : request.diskKeys.flatMap((key) => this.#sent.get(sentKey(request.vmUuid, request.backupId, key)) ?? []);
    return unary((cb) => this.#client.commitBackup({ ...request, sentDisks }, grantMetadata(options.grant), cb));
  }

  hasBase(vmUuid: string, footerUuid: string, options: StorageCallOptions = {}): Promise<HasBaseResponse> {
    return unary((cb) => this.#client.hasBase({ vmUuid, footerUuid }, grantMetadata(options.grant), cb));
  }

  stat(options: StorageCallOptions = {}): Promise<StatResponse> {
    return unary((cb) => this.#client.stat({}, grantMetadata(options.grant), cb));
  }

  /** One committed backup's metadata (added by the host agent for restores). */
  getBackup(vmUuid: string, backupId: string, options: StorageCallOptions = {}): Promise<GetBackupResponse> {
    return unary((cb) => this.#client.getBackup({ vmUuid, backupId }, grantMetadata(options.grant), cb));
  }

  /** Removes what uploads of an uncommitted backup left (DiscardBackup); the paths removed. */
  /** `keepParked`: leave the broken uploads the caller is about to resume (DiscardBackupRequest.keep_parked). */
  async discardBackup(vmUuid: string, backupId: string, options: StorageCallOptions & { keepParked?: boolean } = {}): Promise<string[]> {
    const response = await unary<DiscardBackupResponse>((cb) => this.#client.discardBackup({ vmUuid, backupId, keepParked: options.keepParked ?? false }, grantMetadata(options.grant), cb));
    return response.removedPaths;
  }

  async listBackups(vmUuid = '', options: StorageCallOptions = {}): Promise<BackupSummary[]> {
    const response = await unary<ListBackupsResponse>((cb) => this.#client.listBackups({ vmUuid }, grantMetadata(options.grant), cb));
    return response.backups;
  }

  /** The raw GetDisk stream; prefer getDiskParts. Cancel it to stop early. */
  getDisk(vmUuid: string, backupId: string, diskKey: string, format: GetDiskFormat, options: StorageCallOptions = {}): ClientReadableStream<GetDiskResponse> {
    return this.#client.getDisk({ vmUuid, backupId, diskKey, format }, grantMetadata(options.grant));
  }

  /** GetDisk as an async iteration of its parts, pulled one at a time. */
  async *getDiskParts(vmUuid: string, backupId: string, diskKey: string, format: GetDiskFormat, options: StorageCallOptions = {}): AsyncGenerator<NonNullable<GetDiskResponse['part']>> {
    const call = this.getDisk(vmUuid, backupId, diskKey, format, options);
    try {
      for await (const message of call as AsyncIterable<GetDiskResponse>) {
        if (message.part) yield message.part;
      }
    } finally {
      call.cancel();
    }
  }
}

async function sendDisk(
  stream: ClientWritableStream<PutDiskRequest>,
  header: DiskHeader,
  blocks: AsyncIterable<OutgoingBlock> | Iterable<OutgoingBlock>,
  options: PutDiskOptions,
): Promise<Buffer> {
  const window = Math.max(1, options.window ?? 4);
  const pending: Promise<void>[] = [];
  const send = async (message: PutDiskRequest | EncodedPutDiskRequest, onWritten?: () => void): Promise<void> => {
    pending.push(writeMessage(stream, message, onWritten));
    while (pending.length >= window) await pending.shift();
  };
  const buffers = new ReusedBuffers();
  const bitmapBytes = Math.ceil(header.blockSize / 4096 / 512) * 512;
  const full = new Uint8Array(bitmapBytes).fill(0xff);
  const digest = new DiskDigest();
  const delta = header.parentFooterUuid !== '';
  const rule = checksumRuleFromWire(header.checksumRule);
  if (rule === undefined) throw new RangeError(`checksum rule ${header.checksumRule} is not one this client knows (whole, pieces, blake3)`);
  let bytes = 0;
  await send({ part: { $case: 'header', value: header } });
  for await (const block of blocks) {
    options.signal?.throwIfAborted();
    const bitmap = block.bitmap && block.bitmap.length > 0 ? block.bitmap : new Uint8Array(0);
    const fields = blockFields(rule, block, bitmap, full, header.blockSize, delta, delta && options.packPartialBlocks === true);
    if (fields === undefined) continue;
    digest.add(block.index, fields.checksum);
    const out = buffers.take(blockMessageSize(fields));
    await send(encodeBlockInto(out, fields), () => buffers.give(out));
    bytes += fields.data instanceof Uint8Array ? fields.data.length : fields.data.reduce((sum, part) => sum + part.length, 0);
    options.onProgress?.(digest.count, bytes);
  }
  const sum = digest.digest();
  await send({ part: { $case: 'trailer', value: { blockCount: digest.count, digest: sum } } });
  await Promise.all(pending);
  stream.end();
  return sum;
}

/** The message fields of one block, packed when asked; undefined for a packed block that marks nothing. */
function blockFields(rule: ChecksumRule, block: OutgoingBlock, bitmap: Uint8Array, full: Uint8Array, blockSize: number, delta: boolean, pack: boolean): (BlockFields & { checksum: Buffer }) | undefined {
  if (block.packed === true) {
    if (!delta) throw new RangeError(`block ${block.index}: a packed block in a full; a full's blocks are whole`);
    if (bitmap.length === 0) throw new RangeError(`block ${block.index}: a packed block needs its bitmap`);
    return { index: block.index, bitmap, data: block.data, checksum: ruleChecksum(rule, bitmap, block.data, blockSize, true), packed: true };
  }
  if (pack && bitmap.length > 0 && !bitmap.every((byte) => byte === 0xff)) {
    if (markedSectors(bitmap, blockSize) === 0) return undefined;
    const parts = packBlock(block.data, bitmap, blockSize);
    return { index: block.index, bitmap, data: parts, checksum: ruleChecksum(rule, bitmap, block.data, blockSize), packed: true };
  }
  return { index: block.index, bitmap, data: block.data, checksum: ruleChecksum(rule, bitmap.length > 0 ? bitmap : full, block.data, blockSize) };
}

function sentKey(vmUuid: string, backupId: string, diskKey: string): string {
  return `${vmUuid}/${backupId}/${diskKey}`;
}

/** Writes one message; `onWritten` runs once gRPC has framed it (its buffer may then be reused). */
function writeMessage(stream: ClientWritableStream<PutDiskRequest>, message: PutDiskRequest | EncodedPutDiskRequest, onWritten?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // An encoded block goes through serializePutDiskRequest unchanged (this client's serializer).
    const ok = stream.write(message as PutDiskRequest, (error?: Error | null) => {
      if (error) return reject(error);
      onWritten?.();
      resolve();
    });
    if (!ok) void once(stream, 'drain').catch(() => undefined);
  });
}

function unary<T>(start: (cb: (error: ServiceError | null, response?: T) => void) => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, response) => (error ? reject(error) : resolve(response!)));
  });
}

export { GetDiskFormat };

/** A PutDisk header; without `checksumRule` the blocks are checksummed by the writers' piece rule (WRITE_RULE). */
export type PutDiskHeader = Omit<DiskHeader, 'checksumRule'> & { checksumRule?: WireChecksumRule };
