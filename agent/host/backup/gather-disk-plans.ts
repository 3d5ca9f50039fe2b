// Gathers the facts the full/delta decision needs and applies it (plan-disk-exports.ts): which
// requested bases still exist on the pool and which disk they copy, then — only for those — which
// target remotes hold them as a chain tail (HasBase).
import type { Logger } from '../../../shared/logging/index.js';
import { basesToConfirm, planDiskExports, type DiskExportPlan, type PoolBases } from '../plan/plan-disk-exports.js';
import { TAG } from '../plan/snapshot-tags.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import { NULL_REF, type XapiRef, type XapiVdi } from '../xapi/xapi-records.js';
import type { BackupTarget } from './backup-types.js';
import { ignoreGone } from './pool-snapshots.js';

export async function gatherDiskPlans(
  xapi: HostXapi,
  vmUuid: string,
  diskKeys: readonly string[],
  bases: ReadonlyMap<string, string>,
  targets: readonly BackupTarget[],
  logger: Logger,
): Promise<DiskExportPlan[]> {
  const requests = diskKeys.map((diskKey) => ({ diskKey, requestedBase: bases.get(diskKey) }));
  const pool = await findBasesOnPool(xapi, requests.map((r) => r.requestedBase).filter((b): b is string => b !== undefined));
  const missing = new Map<string, string[]>();
  for (const base of basesToConfirm(requests, pool)) {
    const answers = await Promise.all(targets.map(async (target) => ((await target.storage.hasBase(vmUuid, base)) ? undefined : target.remoteId)));
    missing.set(base, answers.filter((id): id is string => id !== undefined));
  }
  const plans = planDiskExports(requests, pool, missing);
  for (const plan of plans) {
    if (plan.detail !== undefined) logger.warn({ disk: plan.diskKey, reason: plan.fullReason, detail: plan.detail }, 'full export instead of delta');
  }
  return plans;
}

async function findBasesOnPool(xapi: HostXapi, uuids: readonly string[]): Promise<PoolBases> {
  const found = new Map<string, { ref: XapiRef; diskKey: string | undefined }>();
  for (const uuid of new Set(uuids)) {
    const ref = await xapi.call<XapiRef>('VDI.get_by_uuid', uuid).catch(ignoreGone);
    if (ref === undefined) continue;
    const vdi = await xapi.getRecord<XapiVdi>('VDI', ref).catch(ignoreGone);
    if (vdi === undefined || !vdi.is_a_snapshot) continue;
    found.set(uuid, { ref, diskKey: vdi.other_config[TAG.vdi] ?? (await sourceUuid(xapi, vdi.snapshot_of)) });
  }
  return found;
}

async function sourceUuid(xapi: HostXapi, ref: XapiRef): Promise<string | undefined> {
  if (ref === NULL_REF) return undefined;
  return xapi.call<string>('VDI.get_uuid', ref).catch(ignoreGone);
}
