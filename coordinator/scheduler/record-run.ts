// Records a run of a policy and its tasks — one backup task per selected VM and remote, and the
// release of references the policy no longer needs (dispatch/queue-releases.ts) — in one
// transaction, so a crash never leaves a run without its tasks. Recording the same policy and
// scheduled time again is a no-op (the run's unique key), which makes firing idempotent.
// The full/delta plan is not made here but at dispatch, from the catalogue as it is then.
// The tasks are inserted in batches (insertTasks): thousands of VMs are one statement per thousand.
// A policy runs one at a time: while it has a run pending or running, recording another throws
// RunInProgressError naming that run (the catalogue's partial unique index decides, so two
// coordinators or two API calls at the same moment cannot both record one).
import type { Catalogue, RunRecord, RunTrigger, Transaction } from '../catalogue/index.js';
import { activeRunOf, insertRun, isConcurrencyAbort, insertTasks, RunInProgressError, saveRunOutcome, selectVms, type TaskInsert } from '../catalogue/index.js';
import { deriveRunState, type TaskLimits } from '../lifecycle/index.js';
import type { Policy } from '../policy/index.js';
import { backupIdFor } from './backup-id.js';
import type { BackupPayload, Ids } from '../tasks/index.js';
import { queueStaleReleases } from '../dispatch/queue-releases.js';

export interface RunRequest {
  policy: Policy;
  scheduledAt: Date;
  trigger: RunTrigger;
  /** Export every disk full whatever the chains say. */
  forceFull?: boolean;
  /** Back up only these VMs of the policy's selection (manual runs). */
  onlyVms?: string[];
}

export interface RecordedRun {
  run: RunRecord;
  created: boolean;
  taskIds: string[];
}

export async function recordRun(sql: Catalogue, request: RunRequest, ids: Ids, limits: TaskLimits, now: Date): Promise<RecordedRun> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await recordRunOnce(sql, request, ids, limits, now);
    } catch (error) {
      // Two firings of one policy inserting at once can deadlock on the one-active-run index
      // (Postgres aborts one of them): recorded again, that one sees the other's run.
      if (isConcurrencyAbort(error) && attempt < 3) continue;
      if (!(error instanceof RunInProgressError)) throw error;
      const active = await activeRunOf(sql, request.policy.id);
      if (active) throw new RunInProgressError(request.policy.name, active, { cause: error });
      // The active run finished between the refused insert and the look-up: record again.
      if (attempt === 3) throw error;
    }
  }
}

async function recordRunOnce(sql: Catalogue, request: RunRequest, ids: Ids, limits: TaskLimits, now: Date): Promise<RecordedRun> {
  return (await sql.begin(async (tx) => {
    const { policy } = request;
    const recorded = await insertRun(tx, {
      id: ids.uuid(),
      policyId: policy.id,
      policyName: policy.name,
      scheduledAt: request.scheduledAt,
      trigger: request.trigger,
      createdAt: now,
    });
    // A manual run recorded by another call at the same instant is that call's run, not this one's.
    if (!recorded.created && request.trigger === 'manual') throw new RunInProgressError(policy.name, undefined);
    if (!recorded.created) return { ...recorded, taskIds: [] };
    const { taskIds, unknownVms, selected } = await insertBackupTasks(tx, recorded.run, request, ids, limits, now);
    // A run that backs up nothing fails at once (below): its releases go outside it.
    const releases = await queueStaleReleases(tx, policy, { ids, limits, now, runId: taskIds.length > 0 ? recorded.run.id : null }, selected);
    if (taskIds.length === 0) {
      const outcome = deriveRunState([]);
      if (unknownVms.length > 0) outcome.error = `no pool has reported VM ${unknownVms.join(', ')}; check the uuid against \`deltachain vm list\``;
      await saveRunOutcome(tx, recorded.run.id, outcome, now);
      return { ...recorded, taskIds };
    }
    return { ...recorded, taskIds: [...taskIds, ...releases.map((t) => t.id)] };
  })) as RecordedRun;
}

async function insertBackupTasks(
  tx: Transaction,
  run: RunRecord,
  request: RunRequest,
  ids: Ids,
  limits: TaskLimits,
  now: Date,
): Promise<{ taskIds: string[]; unknownVms: string[]; selected: Set<string> }> {
  const { policy } = request;
  const only = request.onlyVms ? new Set(request.onlyVms) : undefined;
  const all = await selectVms(tx, policy.selection);
  const vms = all.filter((vm) => !only || only.has(vm.uuid));
  const selected = new Set(vms.map((vm) => vm.uuid));
  const unknownVms = (request.onlyVms ?? policy.selection.vmUuids).filter((uuid) => !selected.has(uuid));
  const tasks: TaskInsert[] = [];
  for (const vm of vms) {
    for (const remote of policy.remotes) {
      const id = ids.uuid();
      const payload: BackupPayload = {
        policyId: policy.id,
        policyName: policy.name,
        retention: policy.retention,
        purgeSnapshotData: policy.purgeSnapshotData,
        backupId: backupIdFor(request.scheduledAt, ids.suffix()),
        vmName: vm.nameLabel,
        forceFull: request.forceFull ?? false,
      };
      tasks.push({
        id,
        runId: run.id,
        kind: 'backup',
        addressKind: 'pool',
        address: vm.poolName,
        remoteName: remote,
        vmUuid: vm.uuid,
        payload: { ...payload },
        maxAttempts: limits.backup.maxAttempts,
        timeoutSeconds: limits.backup.timeoutSeconds,
        notBefore: now,
        createdAt: now,
      });
    }
  }
  await insertTasks(tx, tasks);
  const taskIds = tasks.map((t) => t.id);
  return { taskIds, unknownVms, selected: new Set(all.map((vm) => vm.uuid)) };
}
