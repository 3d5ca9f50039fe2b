// Queues the release of reference snapshots a policy no longer needs (planner/plan-releases.ts):
// one `release` task per pool and reason, addressed to the pool's host agents.
//   * when a run is recorded: VMs that left the policy (uuid, tag or pool removed, VM gone) and
//     remotes it no longer writes to, found in the catalogue's references — the run's tasks, so
//     `run show` lists them and the run finishes after them;
//   * when a policy is edited: the same, outside any run, so a policy that runs rarely (or is
//     disabled) does not keep them until its next run;
//   * when a policy is deleted: every reference of it, on every pool it may have used.
// A release waits at dispatch while backups of its policy on its pool are queued or running
// (select-dispatch.ts), so it never destroys the base of a delta being exported, and a seed
// still needed is held back (prepare-dispatch.ts). Releasing twice is harmless.
import type { Queryable, TaskRecord } from '../catalogue/index.js';
import { knownPoolNames, referencesOfPolicy, selectVms } from '../catalogue/index.js';
import type { TaskLimits } from '../lifecycle/index.js';
import { planPolicyDeletedReleases, planReleases, type ReleasePlan } from '../planner/index.js';
import type { Policy } from '../policy/index.js';
import type { Ids } from '../tasks/index.js';
import { queueTask } from './queue-task.js';
import type { ReleasePayload } from '../tasks/index.js';

export interface ReleaseQueueing {
  ids: Ids;
  limits: TaskLimits;
  now: Date;
  /** The run the releases belong to (null: outside any run). */
  runId: string | null;
}

/**
 * Releases of the policy's references to VMs it no longer selects or remotes it no longer
 * writes to. `selected`: the VMs it selects now, when the caller has read them.
 */
export async function queueStaleReleases(db: Queryable, policy: Policy, how: ReleaseQueueing, selected?: ReadonlySet<string>): Promise<TaskRecord[]> {
  const references = await referencesOfPolicy(db, policy.id);
  if (references.length === 0) return [];
  const vms = selected ?? new Set((await selectVms(db, policy.selection)).map((vm) => vm.uuid));
  return queuePlans(db, policy, planReleases({ remotes: policy.remotes, selected: vms, references }), how);
}

/** Releases of every reference of a policy about to be deleted (call before deleting it). */
export async function queueDeletedPolicyReleases(db: Queryable, policy: Policy, how: ReleaseQueueing): Promise<TaskRecord[]> {
  const pools = new Set([...(await referencesOfPolicy(db, policy.id)).map((r) => r.pool), ...policy.selection.pools]);
  for (const vm of await selectVms(db, policy.selection)) pools.add(vm.poolName);
  return queuePlans(db, policy, planPolicyDeletedReleases(await knownPoolNames(db, [...pools])), how);
}

async function queuePlans(db: Queryable, policy: Policy, plans: readonly ReleasePlan[], how: ReleaseQueueing): Promise<TaskRecord[]> {
  const queued: TaskRecord[] = [];
  for (const plan of plans) {
    const payload: ReleasePayload = { policyId: policy.id, policyName: policy.name, reason: plan.reason, vmUuids: plan.vmUuids, keepRemotes: plan.keepRemotes };
    queued.push(await queueTask(db, { id: how.ids.uuid(), kind: 'release', addressKind: 'pool', address: plan.pool, remoteName: null, vmUuid: null, runId: how.runId, payload }, how.limits, how.now));
  }
  return queued;
}
