// Another remote's storage agent as a mirror reads it (docs/security.md, "Data plane"): this
// storage agent calls it with its own certificate (`storage:<this remote>`), checks that the
// server's certificate names `storage:<source remote>` (the credentials are made for that identity:
// storage-agent.ts), and sends the coordinator's read grant the mirror task carried with every
// call. Two calls: GetBackup (the backup's metadata file, bounded and parsed through its schema)
// and GetDisk in the BLOCKS or OWN format, pulled one message at a time — the call's read buffer
// holds one message, so the source writes the next block only as this side takes one. A source
// that does not answer GetBackup, or sends no GetDisk message, for `idleSeconds` has its call
// ended (DEADLINE_EXCEEDED, retryable). Every failure is a
// SourceCallError carrying the source's own code.
import { status, type ChannelCredentials } from '@grpc/grpc-js';
import { GetDiskFormat, StorageClient } from '../../shared/grpc/storage-client.js';
import type { GetDiskResponse } from '../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { parseBackupMetadata, type BackupMetadata } from './backup-metadata.js';
import { MAX_POLICY_BYTES, MAX_RECORDS_BYTES } from './commit-backup.js';
import { limitReadBuffer } from './grpc-service.js';
import { partFromProto } from './proto-mapping.js';
import type { ServedPart } from './serve-disk.js';
import { SourceCallError } from './source-call-error.js';
import { idleDeadline } from './upload-limits.js';

/** Metadata larger than this is refused: its records and policy are bounded at commit, its disk list is small. */
export const MAX_SOURCE_METADATA_BYTES = MAX_RECORDS_BYTES + MAX_POLICY_BYTES + 1024 * 1024;

/** How a mirror reaches a source: credentials for a remote's storage agent (its certificate checked for `storage:<remote>`). */
export type SourceCredentials = (sourceRemoteId: string) => ChannelCredentials;

export interface SourceEndpoint {
  remoteId: string;
  /** "host:port". */
  address: string;
  /** The SignedGrant's bytes; undefined when the source runs without grants. */
  grant: Uint8Array | undefined;
  /** Seconds: a GetBackup not answered, or a GetDisk that brings no message, for this long is ended. */
  idleSeconds: number;
}

export class SourceRemote {
  readonly #client: StorageClient;
  readonly #endpoint: SourceEndpoint;

  constructor(endpoint: SourceEndpoint, credentials: ChannelCredentials) {
    this.#endpoint = endpoint;
    this.#client = new StorageClient(endpoint.address, credentials, { 'grpc.initial_reconnect_backoff_ms': 250, 'grpc.max_reconnect_backoff_ms': 5000 });
  }

  get remoteId(): string {
    return this.#endpoint.remoteId;
  }

  close(): void {
    this.#client.close();
  }

  /** The backup's metadata as committed on the source. */
  async getBackup(vmUuid: string, backupId: string): Promise<BackupMetadata> {
    const { remoteId, idleSeconds, grant } = this.#endpoint;
    let json: string;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SourceCallError(remoteId, 'GetBackup', status.DEADLINE_EXCEEDED, `no answer within ${idleSeconds} s (storage.limits.idleSeconds)`, undefined)), idleSeconds * 1000);
    });
    try {
      json = (await Promise.race([this.#client.getBackup(vmUuid, backupId, { grant }), deadline])).metadataJson;
    } catch (error) {
      throw SourceCallError.from(remoteId, 'GetBackup', error);
    } finally {
      clearTimeout(timer);
    }
    if (Buffer.byteLength(json) > MAX_SOURCE_METADATA_BYTES) {
      throw new SourceCallError(remoteId, 'GetBackup', status.INTERNAL, `the metadata of backup ${backupId} is larger than ${MAX_SOURCE_METADATA_BYTES} bytes`, 'REMOTE_FORMAT_INVALID');
    }
    return parseBackupMetadata(json, `backup ${backupId} of VM ${vmUuid} on source remote ${remoteId}`);
  }

  /** One disk's stream in `format` (BLOCKS or OWN), as the receiver takes its parts. */
  async *getDisk(vmUuid: string, backupId: string, diskKey: string, format: GetDiskFormat.GET_DISK_FORMAT_BLOCKS | GetDiskFormat.GET_DISK_FORMAT_OWN): AsyncGenerator<ServedPart> {
    const { remoteId, idleSeconds, grant } = this.#endpoint;
    const call = this.#client.getDisk(vmUuid, backupId, diskKey, format, { grant });
    limitReadBuffer(call);
    let idled = false;
    const idle = idleDeadline(idleSeconds, () => {
      idled = true;
      call.cancel();
    });
    try {
      for await (const message of call as AsyncIterable<GetDiskResponse>) {
        if (!message.part) continue;
        const part = partFromProto(message.part);
        if (part === undefined) throw new SourceCallError(remoteId, 'GetDisk', status.INTERNAL, `a ${message.part.$case} message came in a ${GetDiskFormat[format]} stream`, undefined);
        idle.stop();
        yield part;
        idle.touch();
      }
    } catch (error) {
      if (idled) throw new SourceCallError(remoteId, 'GetDisk', status.DEADLINE_EXCEEDED, `no message for ${idleSeconds} s (storage.limits.idleSeconds); the read was cancelled`, undefined, error);
      throw SourceCallError.from(remoteId, 'GetDisk', error);
    } finally {
      idle.stop();
      call.cancel();
    }
  }
}
