// The edge between the wire (deltachain.tasks.v1 envelopes from the coordinator) and the host
// agent's domain: a task becomes a BackupRequest, RestoreRequest or ReleaseRequest after its fields are checked
// (a bad task fails with a message naming the field, it does not half-run), and an outcome
// becomes a TaskResult output. Generated types stop here. The coordinator's grant a backup or
// restore task carries goes with every call the task makes to its remote (RemoteStorage.withGrant).
import { InvalidInputError } from '../../../shared/errors.js';
import { CHECKSUM_SIZE } from '../../../shared/grpc/disk-checksum.js';
import { encodeSignedGrant, type SignedGrant } from '../../../shared/grants/index.js';
import type { BackupTask, ReleaseReferencesTask, RestoreTask } from '../../../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { ID_PATTERN, UUID_PATTERN } from '../../../shared/ids.js';
import type { TaskResult } from '../../../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { BackupOutcome, BackupRequest, BackupTarget } from '../backup/backup-types.js';
import type { ReleaseOutcome, ReleaseRequest } from '../release/release-references.js';
import type { RestoreOutcome, RestoreRequest } from '../restore/restore-types.js';
import type { RemoteStorages } from './remote-storages.js';

const ADDRESS = /^[^\s/]+:\d{1,5}$/;
const REMOTE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

type Output = TaskResult['output'];

function need(condition: boolean, taskId: string, message: string): void {
  if (!condition) throw new InvalidInputError(`task ${taskId}: ${message}`, { side: 'request' });
}

function checkCommon(taskId: string, p: { vmUuid: string; backupId: string; remoteId: string; storageAddress: string }): void {
  need(UUID_PATTERN.test(p.vmUuid), taskId, `vm_uuid ${JSON.stringify(p.vmUuid)} is not a lowercase uuid`);
  need(ID_PATTERN.test(p.backupId), taskId, `backup_id ${JSON.stringify(p.backupId)} is not a valid backup id`);
  need(p.remoteId !== '', taskId, 'remote_id is empty');
  need(ADDRESS.test(p.storageAddress), taskId, `storage_address ${JSON.stringify(p.storageAddress)} is not host:port`);
}

export function backupRequestFrom(taskId: string, payload: BackupTask, storages: RemoteStorages): BackupRequest {
  checkCommon(taskId, payload);
  let policy: unknown;
  try {
    policy = JSON.parse(payload.policyJson);
  } catch {
    policy = undefined;
  }
  const policyId = (policy as { id?: unknown } | undefined)?.id;
  need(typeof policyId === 'string' && policyId !== '', taskId, 'policy_json must be a JSON object with the policy "id"');
  const basesOf = (bases: Record<string, string>): Map<string, string> => {
    for (const [disk, base] of Object.entries(bases)) need(UUID_PATTERN.test(base), taskId, `the base of disk ${disk} (${JSON.stringify(base)}) is not a uuid`);
    return new Map(Object.entries(bases));
  };
  const bases = basesOf(payload.baseSnapshotVdiByDisk);
  const targets: BackupTarget[] = [{ remoteId: payload.remoteId, backupId: payload.backupId, storage: storages.get(payload.remoteId, payload.storageAddress).withGrant(grantBytes(payload.writeGrant)), bases }];
  for (const more of payload.moreTargets) {
    checkCommon(taskId, { ...more, vmUuid: payload.vmUuid });
    need(UUID_PATTERN.test(more.taskId), taskId, `more_targets: task id ${JSON.stringify(more.taskId)} is not a lowercase uuid`);
    need(!targets.some((t) => t.remoteId === more.remoteId), taskId, `more_targets: remote ${JSON.stringify(more.remoteId)} is named twice`);
    targets.push({
      remoteId: more.remoteId,
      backupId: more.backupId,
      storage: storages.get(more.remoteId, more.storageAddress).withGrant(grantBytes(more.writeGrant)),
      taskId: more.taskId,
      attempt: more.attempt,
      bases: basesOf(more.baseSnapshotVdiByDisk),
    });
  }
  for (const remote of payload.policyRemoteIds) need(REMOTE_ID.test(remote), taskId, `policy_remote_ids: ${JSON.stringify(remote)} is not a remote id`);
  return {
    taskId,
    policyId: policyId as string,
    policyJson: payload.policyJson,
    vmUuid: payload.vmUuid,
    targets,
    bases,
    purgeSnapshotData: payload.purgeSnapshotData ?? true,
    ...(payload.policyRemoteIds.length === 0 ? {} : { policyRemotes: payload.policyRemoteIds }),
  };
}

export function restoreRequestFrom(taskId: string, payload: RestoreTask, storages: RemoteStorages): RestoreRequest {
  checkCommon(taskId, payload);
  need(UUID_PATTERN.test(payload.srUuid), taskId, `sr_uuid ${JSON.stringify(payload.srUuid)} is not a lowercase uuid`);
  for (const [disk, digest] of Object.entries(payload.expectedChainDigests)) {
    need(digest.length === CHECKSUM_SIZE, taskId, `the expected chain digest of disk ${JSON.stringify(disk)} has ${digest.length} bytes, not ${CHECKSUM_SIZE}`);
  }
  return {
    taskId,
    vmUuid: payload.vmUuid,
    backupId: payload.backupId,
    source: storages.get(payload.remoteId, payload.storageAddress).withGrant(grantBytes(payload.readGrant)),
    srUuid: payload.srUuid,
    ...(payload.nameLabel === undefined || payload.nameLabel === '' ? {} : { nameLabel: payload.nameLabel }),
    expectedChainDigests: new Map(Object.entries(payload.expectedChainDigests)),
    keepBootConfig: payload.keepBootConfig === true,
  };
}

/** The grant as the storage agent reads it (absent: the call goes without one, and a storage agent
 * that checks grants refuses it, saying so). */
function grantBytes(grant: SignedGrant | undefined): Uint8Array | undefined {
  return grant === undefined ? undefined : encodeSignedGrant(grant);
}

export function releaseRequestFrom(taskId: string, payload: ReleaseReferencesTask): ReleaseRequest {
  need(UUID_PATTERN.test(payload.policyId), taskId, `policy_id ${JSON.stringify(payload.policyId)} is not a lowercase uuid`);
  for (const vm of payload.vmUuids) need(UUID_PATTERN.test(vm), taskId, `vm_uuids: ${JSON.stringify(vm)} is not a lowercase uuid`);
  for (const remote of payload.keepRemoteIds) need(REMOTE_ID.test(remote), taskId, `keep_remote_ids: ${JSON.stringify(remote)} is not a remote id`);
  return { taskId, policyId: payload.policyId, vmUuids: payload.vmUuids, keepRemotes: payload.keepRemoteIds };
}

export function releaseOutput(outcome: ReleaseOutcome): Output {
  return { $case: 'releaseReferences', value: { destroyedSnapshotUuids: outcome.destroyed.map((d) => d.uuid), destroyedOrphanVdiUuids: outcome.orphans.map((o) => o.uuid) } };
}

/** The result of the backup on `remoteId` (default: the task's own remote, the first). */
export function backupOutput(outcome: BackupOutcome, remoteId = outcome.backups[0]?.remoteId): Output {
  const disks = (remoteId === undefined ? undefined : outcome.targetDisks?.[remoteId]) ?? outcome.disks;
  return {
    $case: 'backup',
    value: {
      backupId: outcome.backups.find((b) => b.remoteId === remoteId)?.backupId ?? outcome.backups[0]?.backupId ?? '',
      snapshotUuid: outcome.snapshotUuid,
      bytesSent: disks.reduce((sum, d) => sum + d.bytesSent, 0),
      report: {
        disks: disks.map((d) => ({
          diskKey: d.diskKey,
          snapshotVdiUuid: d.snapshotVdiUuid,
          mode: d.mode,
          baseVdiUuid: d.baseVdiUuid ?? '',
          fullReason: d.fullReason ?? '',
          detail: d.detail ?? '',
          virtualSize: d.virtualSize,
          blocks: d.blocks,
          bytesSent: d.bytesSent,
          durationMs: d.durationMs,
          readMethod: d.readMethod ?? '',
          fallbackReason: d.fallbackReason ?? '',
          fallbackDetail: d.fallbackDetail ?? '',
        })),
        skippedDisks: outcome.skippedDisks,
        removedSnapshots: outcome.removedSnapshots.map((s) => ({ snapshotUuid: s.uuid, reason: s.reason })),
        redelivered: outcome.redelivered,
        warnings: outcome.warnings,
        snapshotTimeMs: Date.parse(outcome.timestamp) || 0,
      },
    },
  };
}

export function restoreOutput(outcome: RestoreOutcome): Output {
  return {
    $case: 'restore',
    value: {
      newVmUuid: outcome.newVmUuid,
      bytesReceived: outcome.bytesReceived,
      report: {
        newVmName: outcome.newVmName,
        disks: outcome.disks.map((d) => ({ diskKey: d.diskKey, vdiUuid: d.vdiUuid, bytes: d.bytes, durationMs: d.durationMs, digestChecked: d.digestChecked === true })),
        warnings: outcome.warnings,
        redelivered: outcome.redelivered,
        droppedFields: outcome.droppedFields ?? [],
      },
    },
  };
}
