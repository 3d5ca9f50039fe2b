// Releases a policy's reference snapshots on this pool (deltachain.tasks.v1.ReleaseReferencesTask):
// the snapshots planRelease picks (plan/plan-release.ts) are destroyed with their VDIs.
//   1. one `VM.get_all_records` finds the pool's snapshots tagged for the policy (the VMs named,
//      or every VM), grouped by the VM they copy — a VM destroyed since keeps its snapshots, and
//      they are found all the same;
//   2. per VM, under that VM's lock (no backup of it runs meanwhile in this agent, so a snapshot a
//      backup has just taken is never in the way), the candidates are read again and planned;
//   3. each is destroyed, whatever its VDIs' type (a purged reference's are `cbt_metadata`); one
//      already gone is not an error;
//   4. when no remote of the policy keeps references (the policy deleted, or VMs left it), the
//      policy's `cbt_metadata` VDIs whose snapshot VM is gone go too (plan/plan-orphan-metadata.ts):
//      of the named VMs' disks, under each VM's lock, or of every disk when no VM is named. With
//      remotes kept, an orphan may still be a kept remote's delta base, so it is left to the
//      backup's cleanup, which knows the bases its task asks for.
// Idempotent: a second run finds nothing left to destroy.
import type { Logger } from '../../../shared/logging/index.js';
import { ignoreGone, PoolSnapshots } from '../backup/pool-snapshots.js';
import { planOrphanMetadata } from '../plan/plan-orphan-metadata.js';
import { planRelease, type ReleaseScope } from '../plan/plan-release.js';
import type { SnapshotSummary } from '../plan/snapshot-summary.js';
import { TAG } from '../plan/snapshot-tags.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import type { XapiRef, XapiVm } from '../xapi/xapi-records.js';

export interface ReleaseContext {
  xapi: HostXapi;
  logger: Logger;
  /** Runs `operation` while no backup of the VM runs in this agent. */
  lockVm<T>(vmUuid: string, operation: () => Promise<T>): Promise<T>;
}

export interface ReleaseRequest {
  taskId: string;
  policyId: string;
  /** VMs whose references go; empty = every VM of the pool. Lowercase uuids. */
  vmUuids: string[];
  /** Remotes whose references stay. */
  keepRemotes: string[];
}

export interface ReleaseOutcome {
  destroyed: Array<{ uuid: string; vmUuid: string; reason: string }>;
  /** Orphan `cbt_metadata` VDIs destroyed (VDI uuids). */
  orphans: Array<{ uuid: string; reason: string }>;
}

export async function releaseReferences(context: ReleaseContext, request: ReleaseRequest): Promise<ReleaseOutcome> {
  const scope: ReleaseScope = {
    policyId: request.policyId,
    vmUuids: request.vmUuids.length === 0 ? undefined : new Set(request.vmUuids),
    keepRemotes: new Set(request.keepRemotes),
  };
  const logger = context.logger.child({ taskId: request.taskId, policy: request.policyId });
  const snapshots = new PoolSnapshots(context.xapi);
  const outcome: ReleaseOutcome = { destroyed: [], orphans: [] };
  for (const [vmUuid, refs] of await snapshotsOfPolicy(context.xapi, scope)) {
    await context.lockVm(vmUuid, async () => {
      for (const item of planRelease(await readAll(snapshots, refs), scope)) {
        logger.info({ vm: vmUuid, snapshot: item.snapshot.uuid, reason: item.reason }, 'destroying a reference the policy no longer needs');
        await snapshots.destroy(item.snapshot);
        outcome.destroyed.push({ uuid: item.snapshot.uuid, vmUuid, reason: item.reason });
      }
    });
  }
  if (scope.keepRemotes.size === 0) await releaseOrphans(context, snapshots, scope, logger, outcome);
  return outcome;
}

/** Step 4: the policy's orphan `cbt_metadata` VDIs of the VMs in scope (or of every disk). */
async function releaseOrphans(context: ReleaseContext, snapshots: PoolSnapshots, scope: ReleaseScope, logger: Logger, outcome: ReleaseOutcome): Promise<void> {
  const destroy = async (diskKeys: ReadonlySet<string> | undefined): Promise<void> => {
    const orphans = planOrphanMetadata(await snapshots.metadataVdis(scope.policyId), [], { policyId: scope.policyId, diskKeys, keepUuids: new Set() });
    for (const orphan of orphans) {
      logger.info({ vdi: orphan.vdi.uuid, reason: orphan.reason }, 'destroying CBT metadata the policy no longer needs');
      await snapshots.destroyVdi(orphan.vdi.ref);
      outcome.orphans.push({ uuid: orphan.vdi.uuid, reason: orphan.reason });
    }
  };
  if (scope.vmUuids === undefined) return destroy(undefined);
  for (const vmUuid of scope.vmUuids) {
    const vm = await context.xapi.getRecordByUuid<XapiVm>('VM', vmUuid).catch(ignoreGone);
    if (vm === undefined) continue;
    await context.lockVm(vmUuid, async () => destroy(await snapshots.diskKeysOf(vm.record)));
  }
}

/** VM uuid → refs of the pool's snapshots tagged for the policy (and for a VM in scope). */
async function snapshotsOfPolicy(xapi: HostXapi, scope: ReleaseScope): Promise<Map<string, XapiRef[]>> {
  const records = await xapi.call<Record<XapiRef, XapiVm>>('VM.get_all_records');
  const byVm = new Map<string, XapiRef[]>();
  for (const [ref, vm] of Object.entries(records)) {
    if (!vm.is_a_snapshot || vm.other_config?.[TAG.policy] !== scope.policyId) continue;
    const vmUuid = (vm.other_config[TAG.vm] ?? '').toLowerCase();
    if (vmUuid === '' || (scope.vmUuids !== undefined && !scope.vmUuids.has(vmUuid))) continue;
    byVm.set(vmUuid, [...(byVm.get(vmUuid) ?? []), ref]);
  }
  return byVm;
}

async function readAll(snapshots: PoolSnapshots, refs: readonly XapiRef[]): Promise<SnapshotSummary[]> {
  const out: SnapshotSummary[] = [];
  for (const ref of refs) {
    const summary = await snapshots.read(ref).catch(ignoreGone);
    if (summary !== undefined) out.push(summary);
  }
  return out;
}
