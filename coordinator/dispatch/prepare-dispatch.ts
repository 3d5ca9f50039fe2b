// The last decisions before tasks leave: a backup task gets its full/delta plan from the
// catalogue as it is now (chains and references may have moved since the run was recorded),
// and backup and restore tasks get the registered address of the remote's storage agent. A release holds
// back the VMs whose reference is still the seed of a kept remote (planner/plan-releases.ts);
// when that leaves it nothing to do, it is done without being sent (`done` is its result).
// Returns each task's new payload, or a failure to record when the task cannot go yet.
//
// A whole batch of tasks is prepared from one read of each view (storage addresses of the
// remotes named, references of the (policy, VM) pairs, chain tails of the (VM, remote) pairs);
// the plan itself is the planner's pure decision per task.
import type { Queryable, TaskOf, TaskRecord } from '../catalogue/index.js';
import { chainKey, chainTailsOf, referenceKey, referencesOf, registeredAddressOf } from '../catalogue/index.js';
import type { TaskFailure } from '../lifecycle/index.js';
import { DISK_MODE_REASONS, planBackup, withoutSeedsInUse, type ChainTail, type DiskMode, type ReferenceView } from '../planner/index.js';
import type { BackupPayload, PlannedDisk, ReleasePayload, TaskPayload } from '../tasks/index.js';

export type Preparation = { ok: true; payload: TaskPayload; done?: Record<string, unknown> } | { ok: false; error: TaskFailure };

interface DispatchViews {
  storageAddresses: Map<string, string | undefined>;
  references: Map<string, ReferenceView[]>;
  chains: Map<string, Record<string, ChainTail>>;
}

/** Prepares every task given (rows locked by the caller); task id → its preparation. */
/** What preparation reads of a task's policy (undefined: the policy is gone). */
export interface PolicyFacts {
  fullInterval: number;
  remotes: readonly string[];
}

export async function prepareDispatches(db: Queryable, tasks: readonly TaskRecord[], policyOf: (policyId: string) => PolicyFacts | undefined): Promise<Map<string, Preparation>> {
  const views = await loadViews(db, tasks);
  return new Map(tasks.map((task) => [task.id, prepareOne(task, views, policyOf)]));
}

/** The (policy, VM) and (VM, remote) pairs whose references and chains a task's preparation reads. */
function viewPairs(task: TaskRecord): { references: { policyId: string; vmUuid: string }[]; chains: { vmUuid: string; remote: string }[] } {
  if (task.kind === 'backup') {
    const { policyId } = task.payload;
    return { references: [{ policyId, vmUuid: task.vmUuid! }], chains: [{ vmUuid: task.vmUuid!, remote: task.remoteName! }] };
  }
  if (task.kind !== 'release') return { references: [], chains: [] };
  const { policyId, vmUuids, keepRemotes } = task.payload;
  return {
    references: vmUuids.map((vmUuid) => ({ policyId, vmUuid })),
    chains: vmUuids.flatMap((vmUuid) => keepRemotes.map((remote) => ({ vmUuid, remote }))),
  };
}

async function loadViews(db: Queryable, tasks: readonly TaskRecord[]): Promise<DispatchViews> {
  const remotes = [...new Set(tasks.flatMap((t) => (t.kind === 'backup' || t.kind === 'restore' ? [t.remoteName!] : t.kind === 'mirror' ? [t.payload.sourceRemote] : [])))];
  const pairs = tasks.map(viewPairs);
  const [addresses, references, chains] = await Promise.all([
    Promise.all(remotes.map(async (remote) => [remote, await registeredAddressOf(db, remote)] as const)),
    referencesOf(db, pairs.flatMap((p) => p.references)),
    chainTailsOf(db, pairs.flatMap((p) => p.chains)),
  ]);
  return { storageAddresses: new Map(addresses), references, chains };
}

function prepareRelease(task: TaskOf<'release'>, views: DispatchViews): Preparation {
  const payload = task.payload;
  const { release, heldAsSeed } = withoutSeedsInUse({
    vmUuids: payload.vmUuids,
    keepRemotes: payload.keepRemotes,
    references: (vm) => views.references.get(referenceKey(payload.policyId, vm)) ?? [],
    chains: (vm, remote) => views.chains.get(chainKey(vm, remote)) ?? {},
  });
  if (heldAsSeed.length === 0) return { ok: true, payload: task.payload };
  const next: ReleasePayload = { ...payload, vmUuids: release, heldAsSeed };
  // An empty list would mean "every VM of the pool": a release left with none is done here.
  if (release.length === 0) return { ok: true, payload: next, done: { destroyedSnapshotUuids: [], heldAsSeed } };
  return { ok: true, payload: next };
}

function prepareOne(task: TaskRecord, views: DispatchViews, policyOf: (policyId: string) => PolicyFacts | undefined): Preparation {
  if (task.kind === 'release') return prepareRelease(task, views);
  if (task.kind === 'mirror') return prepareMirror(task, views);
  if (task.kind !== 'backup' && task.kind !== 'restore') return { ok: true, payload: task.payload };
  const remote = task.remoteName!;
  const storageAddress = views.storageAddresses.get(remote);
  if (storageAddress === undefined) {
    return { ok: false, error: noAddress(remote) };
  }
  if (task.kind === 'restore') return { ok: true, payload: { ...task.payload, storageAddress } };
  const payload = task.payload;
  const plan = planBackup({
    remote,
    references: views.references.get(referenceKey(payload.policyId, task.vmUuid!)) ?? [],
    chains: views.chains.get(chainKey(task.vmUuid!, remote)) ?? {},
    fullInterval: policyOf(payload.policyId)?.fullInterval ?? 0,
    forceFull: payload.forceFull,
  });
  const disks: Record<string, PlannedDisk> = {};
  for (const [disk, mode] of Object.entries(plan.disks)) {
    disks[disk] = mode.mode === 'delta' ? { mode: 'delta', reason: DISK_MODE_REASONS[mode.reason], baseVdiUuid: mode.baseVdiUuid } : { mode: 'full', reason: fullReason(mode) };
  }
  const next: BackupPayload = { ...payload, plan: disks, storageAddress, policyRemotes: [...(policyOf(payload.policyId)?.remotes ?? [remote])] };
  if (plan.reference) next.referenceSnapshotUuid = plan.reference.snapshotUuid;
  else delete next.referenceSnapshotUuid;
  return { ok: true, payload: next };
}

/** A mirror's target pulls from the source's storage agent: its registered address. */
function prepareMirror(task: TaskOf<'mirror'>, views: DispatchViews): Preparation {
  const source = task.payload.sourceRemote;
  const sourceAddress = views.storageAddresses.get(source);
  if (sourceAddress === undefined) return { ok: false, error: noAddress(source) };
  return { ok: true, payload: { ...task.payload, sourceAddress } };
}

function noAddress(remote: string): TaskFailure {
  return { code: 'NO_STORAGE_ADDRESS', message: `remote ${remote} has no registered address: run \`deltachain remote edit ${remote} --address HOST:PORT\` with its storage agent's gRPC address`, retryable: true };
}

/** Words for a full, naming the damaged backup when that is the reason. */
function fullReason(mode: Extract<DiskMode, { mode: 'full' }>): string {
  const words = DISK_MODE_REASONS[mode.reason];
  return mode.reason === 'chain-damaged' ? `${words} (backup ${mode.damagedBackupId})` : words;
}
