// The last decisions before tasks leave: a backup task gets its full/delta plan from the
// catalogue as it is now (chains and references may have moved since the run was recorded),
// and backup and restore tasks get the address of the remote's storage agent. Returns each
// task's new payload, or a failure to record when the task cannot go yet.
//
// A whole batch of tasks is prepared from one read of each view (storage addresses of the
// remotes named, references of the (policy, VM) pairs, chain tails of the (VM, remote) pairs);
// the plan itself is the planner's pure decision per task.
import type { Queryable, TaskRecord } from '../catalog/index.js';
import { chainKey, chainTailsOf, referenceKey, referencesOf, storageAddressOf } from '../catalog/index.js';
import type { TaskFailure } from '../lifecycle/index.js';
import { DISK_MODE_REASONS, planBackup, type ChainTail, type DiskMode, type ReferenceView } from '../planner/index.js';
import type { BackupPayload, PlannedDisk } from './task-payloads.js';

export type Preparation = { ok: true; payload: Record<string, unknown> } | { ok: false; error: TaskFailure };

interface DispatchViews {
  storageAddresses: Map<string, string | undefined>;
  references: Map<string, ReferenceView[]>;
  chains: Map<string, Record<string, ChainTail>>;
}

/** Prepares every task given (rows locked by the caller); task id → its preparation. */
export async function prepareDispatches(db: Queryable, tasks: readonly TaskRecord[], fullIntervalOf: (policyId: string) => number | undefined): Promise<Map<string, Preparation>> {
  const views = await loadViews(db, tasks);
  return new Map(tasks.map((task) => [task.id, prepareOne(task, views, fullIntervalOf)]));
}

async function loadViews(db: Queryable, tasks: readonly TaskRecord[]): Promise<DispatchViews> {
  const remotes = [...new Set(tasks.filter((t) => t.kind === 'backup' || t.kind === 'restore').map((t) => t.remoteName!))];
  const backups = tasks.filter((t) => t.kind === 'backup');
  const [addresses, references, chains] = await Promise.all([
    Promise.all(remotes.map(async (remote) => [remote, await storageAddressOf(db, remote)] as const)),
    referencesOf(db, backups.map((t) => ({ policyId: (t.payload as unknown as BackupPayload).policyId, vmUuid: t.vmUuid! }))),
    chainTailsOf(db, backups.map((t) => ({ vmUuid: t.vmUuid!, remote: t.remoteName! }))),
  ]);
  return { storageAddresses: new Map(addresses), references, chains };
}

function prepareOne(task: TaskRecord, views: DispatchViews, fullIntervalOf: (policyId: string) => number | undefined): Preparation {
  if (task.kind !== 'backup' && task.kind !== 'restore') return { ok: true, payload: task.payload };
  const remote = task.remoteName!;
  const storageAddress = views.storageAddresses.get(remote);
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
    references: views.references.get(referenceKey(payload.policyId, task.vmUuid!)) ?? [],
    chains: views.chains.get(chainKey(task.vmUuid!, remote)) ?? {},
    fullInterval: fullIntervalOf(payload.policyId) ?? 0,
    forceFull: payload.forceFull,
  });
  const disks: Record<string, PlannedDisk> = {};
  for (const [disk, mode] of Object.entries(plan.disks)) {
    disks[disk] = mode.mode === 'delta' ? { mode: 'delta', reason: DISK_MODE_REASONS[mode.reason], baseVdiUuid: mode.baseVdiUuid } : { mode: 'full', reason: fullReason(mode) };
  }
  const next: BackupPayload = { ...payload, plan: disks, storageAddress };
  if (plan.reference) next.referenceSnapshotUuid = plan.reference.snapshotUuid;
  else delete next.referenceSnapshotUuid;
  return { ok: true, payload: { ...next } };
}

/** Words for a full, naming the damaged backup when that is the reason. */
function fullReason(mode: Extract<DiskMode, { mode: 'full' }>): string {
  const words = DISK_MODE_REASONS[mode.reason];
  return mode.reason === 'chain-damaged' ? `${words} (backup ${mode.damagedBackupId})` : words;
}
