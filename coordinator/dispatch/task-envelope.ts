// A task as it goes on the wire: the catalogue row and its payload → deltachain.tasks.v1.Task,
// encoded as protobuf. The message id for JetStream deduplication is `<task id>.<attempt>`: a
// republish of the same attempt (after a coordinator restart) is dropped by the server, while a
// retry is a new message. Backup and restore tasks carry the coordinator's grant for their
// storage calls (task-grants.ts) when the coordinator has a signing key, and the task is signed
// with that key (header Deltachain-Task-Signature; shared/task-trust).
import { Task, TaskKind } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import type { Signer } from '../../shared/signing/index.js';
import { signTask } from '../../shared/task-trust/index.js';
import type { TaskOf, TaskRecord } from '../catalogue/index.js';
import type { BackupTarget } from '../../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { signGrant } from '../../shared/grants/index.js';
import { grantOf, withGrant } from './task-grants.js';

const KINDS: Record<TaskRecord['kind'], TaskKind> = {
  backup: TaskKind.TASK_KIND_BACKUP,
  merge: TaskKind.TASK_KIND_MERGE,
  delete: TaskKind.TASK_KIND_DELETE,
  scan: TaskKind.TASK_KIND_SCAN,
  restore: TaskKind.TASK_KIND_RESTORE,
  verify: TaskKind.TASK_KIND_VERIFY,
  release: TaskKind.TASK_KIND_RELEASE_REFERENCES,
  mirror: TaskKind.TASK_KIND_MIRROR,
};

export function messageIdOf(task: Pick<TaskRecord, 'id' | 'attempt'>): string {
  return `${task.id}.${task.attempt}`;
}

/** Per disk, the base snapshot VDI of a delta (a full is absent). */
function basesOf(task: TaskOf<'backup'>): Record<string, string> {
  return Object.fromEntries(Object.entries(task.payload.plan ?? {}).flatMap(([disk, d]) => (d.mode === 'delta' && d.baseVdiUuid ? [[disk, d.baseVdiUuid]] : [])));
}

function payloadOf(task: TaskRecord, more: readonly TaskRecord[], signer: Signer | undefined): Task['payload'] {
  const vmUuid = task.vmUuid ?? '';
  switch (task.kind) {
    case 'backup': {
      const p = task.payload;
      const others = more.filter((t): t is TaskOf<'backup'> => t.kind === 'backup');
      const where = others.length === 0 ? { remote: task.remoteName } : { remotes: [task.remoteName, ...others.map((t) => t.remoteName)] };
      const policyJson = JSON.stringify({ id: p.policyId, name: p.policyName, retention: p.retention, ...where });
      const moreTargets: BackupTarget[] = others.map((t) => {
        const grant = signer === undefined ? undefined : grantOf(t);
        return {
          taskId: t.id,
          attempt: t.attempt,
          backupId: t.payload.backupId,
          remoteId: t.remoteName ?? '',
          storageAddress: t.payload.storageAddress ?? '',
          baseSnapshotVdiByDisk: basesOf(t),
          ...(grant === undefined || signer === undefined ? {} : { writeGrant: signGrant(signer, grant) }),
        };
      });
      return {
        $case: 'backup',
        value: {
          vmUuid, backupId: p.backupId, remoteId: task.remoteName ?? '', storageAddress: p.storageAddress ?? '', baseSnapshotVdiByDisk: basesOf(task), policyJson,
          purgeSnapshotData: p.purgeSnapshotData ?? true, moreTargets, policyRemoteIds: p.policyRemotes ?? [],
        },
      };
    }
    case 'restore': {
      const p = task.payload;
      const expectedChainDigests = Object.fromEntries(Object.entries(p.expectedChainDigests ?? {}).map(([disk, hex]) => [disk, Buffer.from(hex, 'hex')]));
      const value = { vmUuid, backupId: p.backupId, remoteId: task.remoteName ?? '', storageAddress: p.storageAddress ?? '', srUuid: p.srUuid, expectedChainDigests, ...(p.keepBootConfig === true ? { keepBootConfig: true } : {}) };
      return { $case: 'restore', value: p.name === '' ? value : { ...value, nameLabel: p.name } };
    }
    case 'merge':
      return { $case: 'merge', value: { vmUuid, backupId: task.payload.backupId } };
    case 'delete':
      return { $case: 'delete', value: { vmUuid, backupId: task.payload.backupId } };
    case 'verify':
      return { $case: 'verify', value: { vmUuid, backupId: task.payload.backupId } };
    case 'scan': {
      const p = task.payload;
      return { $case: 'scan', value: { removeGarbage: p.removeGarbage, graceSeconds: p.graceSeconds } };
    }
    case 'release': {
      const p = task.payload;
      return { $case: 'releaseReferences', value: { policyId: p.policyId, vmUuids: p.vmUuids, keepRemoteIds: p.keepRemotes } };
    }
    case 'mirror': {
      const p = task.payload;
      const disks = p.disks.map((d) => ({ diskKey: d.diskKey, footerUuid: d.footerUuid, chainDigest: Buffer.from(d.chainDigest, 'hex') }));
      return { $case: 'mirror', value: { vmUuid, backupId: p.backupId, sourceRemoteId: p.sourceRemote, sourceAddress: p.sourceAddress ?? '', disks, mirrorName: p.mirrorName } };
    }
  }
}

/** `more`: the other backup tasks of the same run and VM sent in this message (one export, many remotes). */
export function taskEnvelope(task: TaskRecord, signer?: Signer, more: readonly TaskRecord[] = []): Task {
  const envelope: Task = {
    taskId: task.id,
    kind: KINDS[task.kind],
    target: { agent: task.addressKind === 'pool' ? { $case: 'poolId', value: task.address } : { $case: 'remoteId', value: task.address } },
    attempt: task.attempt,
    createdAtMs: task.createdAt.getTime(),
    deadlineMs: task.deadlineAt ? task.deadlineAt.getTime() : 0,
    // Signed when dispatched, valid until the attempt's deadline (when the coordinator gives up
    // on it): the same attempt published again is the same bytes, so JetStream drops it.
    expiresAtMs: expiryOf(task),
    signedAtMs: task.dispatchedAt ? task.dispatchedAt.getTime() : 0,
    runId: task.runId ?? '',
    payload: payloadOf(task, more, signer),
    leaderTerm: task.dispatchTerm ?? 0,
  };
  return signer === undefined ? envelope : withGrant(envelope, task, signer);
}

/** A task without a deadline still expires: a day after it was dispatched. */
const EXPIRY_WITHOUT_DEADLINE_MS = 86_400_000;

function expiryOf(task: TaskRecord): number {
  if (task.deadlineAt) return task.deadlineAt.getTime();
  return task.dispatchedAt ? task.dispatchedAt.getTime() + EXPIRY_WITHOUT_DEADLINE_MS : 0;
}

export function encodeTask(task: TaskRecord, signer?: Signer, more: readonly TaskRecord[] = []): Uint8Array {
  return Task.encode(taskEnvelope(task, signer, more)).finish();
}

/** The encoded task and, with the coordinator's key, its signature (shared/task-trust). */
export function signedTask(task: TaskRecord, signer?: Signer, more: readonly TaskRecord[] = []): { data: Uint8Array; signature?: string } {
  const data = encodeTask(task, signer, more);
  return signer === undefined ? { data } : { data, signature: signTask(signer, data) };
}
