// Domain → wire translations shared by the gRPC service and the task results (generated types
// stay at the edge).
import type { BackupSummary as ProtoBackupSummary } from '../../shared/proto/gen/deltachain/storage/v1/backup.js';
import type { BackupSummary } from './list-backups.js';

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
