export { planDiskMode, DISK_MODE_REASONS, type ChainTail, type DiskMode, type DiskModeInput, type DiskModeReason } from './plan-disk-mode.js';
export { planBackup, chooseReference, type BackupPlan, type BackupPlanInput, type ReferenceView } from './plan-backup.js';
export { planRetention, nextRetentionAction, type RetentionAction, type RetentionBackup, type RetentionPlan } from './plan-retention.js';
export { resolveRestore, type RestoreCandidate, type RestoreResolution } from './resolve-restore.js';
export { planPolicyDeletedReleases, planReleases, withoutSeedsInUse, type HeldReference, type ReleaseInput, type ReleasePlan, type ReleaseReason, type SeedCheckInput } from './plan-releases.js';
export { mirrorBacklog, nextMirrorCopy, type MirrorPoint, type MirrorPointDisk } from './plan-mirror.js';
