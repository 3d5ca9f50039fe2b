// Domain ↔ wire translations shared by the gRPC service, the mirror's pull from another storage
// agent and the task results (generated types stay at the edge): backup summaries, and the parts
// of a disk stream (header, block, trailer) as PutDisk receives them and GetDisk sends them.
import type { BackupSummary as ProtoBackupSummary } from '../../shared/proto/gen/deltachain/storage/v1/backup.js';
import type { DiskBlock, DiskHeader } from '../../shared/proto/gen/deltachain/storage/v1/disk.js';
import type { GetDiskResponse } from '../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { checksumRuleFromWire, checksumRuleToWire } from '../../shared/grpc/checksum-rule.js';
import type { BlockInput, DiskHeaderInput } from './disk-receiver.js';
import { StorageRequestError } from './errors.js';
import type { BackupSummary } from './list-backups.js';
import type { ServedPart } from './serve-disk.js';

export function toProtoSummary(b: BackupSummary): ProtoBackupSummary {
  return {
    backupId: b.backupId,
    vmUuid: b.vmUuid,
    timestampMs: b.timestampMs,
    metadataPath: b.metadataPath,
    disks: b.disks.map((d) => ({
      diskKey: d.diskKey,
      path: d.path,
      fileSize: d.fileSize,
      virtualSize: d.virtualSize,
      footerUuid: d.footerUuid,
      parentFooterUuid: d.parentFooterUuid ?? '',
      chainPosition: d.chainPosition,
      digest: d.digest,
      chainDigest: d.chainDigest,
    })),
  };
}

/** A view of the bytes as a Buffer, without a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function headerFromProto(h: DiskHeader): DiskHeaderInput {
  return {
    backupId: h.backupId,
    vmUuid: h.vmUuid,
    diskKey: h.diskKey,
    virtualSize: h.virtualSize,
    blockSize: h.blockSize,
    footerUuid: h.footerUuid,
    parentFooterUuid: h.parentFooterUuid === '' ? undefined : h.parentFooterUuid,
    timestampMs: h.timestampMs,
    checksumRule: ruleFromProto(h.checksumRule),
  };
}

function ruleFromProto(rule: DiskHeader['checksumRule']): DiskHeaderInput['checksumRule'] {
  const known = checksumRuleFromWire(rule);
  if (known === undefined) throw new StorageRequestError(`checksum rule ${rule} is not one this storage agent knows (whole, pieces, blake3); upgrade it`);
  return known;
}

export function blockFromProto(b: DiskBlock): BlockInput {
  return { index: b.index, bitmap: asBuffer(b.bitmap), data: asBuffer(b.data), checksum: asBuffer(b.checksum), packed: b.packed };
}

export function partToProto(part: ServedPart): GetDiskResponse {
  switch (part.kind) {
    case 'header':
      return { part: { $case: 'header', value: { ...part.header, parentFooterUuid: part.header.parentFooterUuid ?? '', checksumRule: checksumRuleToWire(part.header.checksumRule) } } };
    case 'block':
      return { part: { $case: 'block', value: part.block } };
    case 'trailer':
      return { part: { $case: 'trailer', value: part.trailer } };
  }
}

/** A GetDisk BLOCKS or OWN message as the receiver takes it; undefined for a VHD stream's part. */
export function partFromProto(part: NonNullable<GetDiskResponse['part']>): ServedPart | undefined {
  switch (part.$case) {
    case 'header':
      return { kind: 'header', header: headerFromProto(part.value) };
    case 'block':
      return { kind: 'block', block: blockFromProto(part.value) };
    case 'trailer':
      return { kind: 'trailer', trailer: { blockCount: part.value.blockCount, digest: asBuffer(part.value.digest) } };
    default:
      return undefined;
  }
}
