// The last decisions before a task leaves: a backup task gets its full/delta plan from the
// catalogue as it is now (chains and references may have moved since the run was recorded),
// and backup and restore tasks get the address of the remote's storage agent. Returns the new
// payload, or a failure to record when the task cannot go yet.
import type { Queryable, TaskRecord } from '../catalog/index.js';
import { chainTails, listReferences, storageAddressOf } from '../catalog/index.js';
import type { TaskFailure } from '../lifecycle/index.js';
import { DISK_MODE_REASONS, planBackup } from '../planner/index.js';
import type { BackupPayload, PlannedDisk } from './task-payloads.js';

export type Preparation = { ok: true; payload: Record<string, unknown> } | { ok: false; error: TaskFailure };

export async function prepareDispatch(db: Queryable, task: TaskRecord, fullInterval: number | undefined): Promise<Preparation> {
  if (task.kind !== 'backup' && task.kind !== 'restore') return { ok: true, payload: task.payload };
  const remote = task.remoteName!;
  const storageAddress = await storageAddressOf(db, remote);
  if (storageAddress === undefined) {
    return {
      ok: false,
      error: { code: 'NO_STORAGE_AGENT', message: `no storage agent has announced itself for remote ${remote}; start one (\`deltachain agent --config …\`) and check \`deltachain agent list\``, retryable: true },
    };
  }
  if (task.kind === 'restore') return { ok: true, payload: { ...task.payload, storageAddress } };
  const payload = task.payload as unknown as BackupPayload;
  const plan = planBackup({
    remote,
    references: await listReferences(db, payload.policyId, task.vmUuid!),
    chains: await chainTails(db, task.vmUuid!, remote),
    fullInterval: fullInterval ?? 0,
    forceFull: payload.forceFull,
  });
  const disks: Record<string, PlannedDisk> = {};
  for (const [disk, mode] of Object.entries(plan.disks)) {
    disks[disk] = mode.mode === 'delta' ? { mode: 'delta', reason: DISK_MODE_REASONS[mode.reason], baseVdiUuid: mode.baseVdiUuid } : { mode: 'full', reason: DISK_MODE_REASONS[mode.reason] };
  }
  const next: BackupPayload = { ...payload, plan: disks, storageAddress };
  if (plan.reference) next.referenceSnapshotUuid = plan.reference.snapshotUuid;
  else delete next.referenceSnapshotUuid;
  return { ok: true, payload: { ...next } };
}
