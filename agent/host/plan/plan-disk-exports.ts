// Full or delta, per disk, as far as the host can tell. The coordinator asks for a delta by naming
// the base (the reference snapshot's VDI uuid) per disk; the host turns a delta into a full when
//   * the base is gone from the pool (an admin deleted the reference) or belongs to another disk;
//   * a target remote does not hold the base as the newest disk of a chain (HasBase said no);
//   * XAPI cannot compute the delta (decided at export time, `fallBackToFull`);
//   * the reference's data was purged (cbt_metadata) and CBT cannot serve the delta
//     (`purgedReferenceFull`, decided at export time).
// Every full that was not asked for carries a reason that ends up in the task result.
// Pure: the executor gathers pool and remote facts first (`basesToConfirm` says which to ask).
import type { XapiRef } from '../xapi/xapi-records.js';

export type FullReason = 'requested' | 'reference-gone' | 'base-of-another-disk' | 'remote-lacks-base' | 'delta-export-failed' | 'reference-purged';

export interface DiskRequest {
  diskKey: string;
  /** The snapshot VDI uuid to export a delta against; undefined asks for a full. */
  requestedBase: string | undefined;
}

/** Snapshot VDIs found on the pool, by uuid. */
export type PoolBases = ReadonlyMap<string, { ref: XapiRef; diskKey: string | undefined }>;

/** Per base uuid, the target remotes that do not hold it. */
export type MissingBases = ReadonlyMap<string, readonly string[]>;

export interface DiskExportPlan {
  diskKey: string;
  mode: 'full' | 'delta';
  base?: { uuid: string; ref: XapiRef };
  fullReason?: FullReason;
  /** Human explanation of a full that was not asked for. */
  detail?: string;
}

/** The bases worth confirming with the remotes (present on the pool for the right disk). */
export function basesToConfirm(requests: readonly DiskRequest[], pool: PoolBases): string[] {
  const out = new Set<string>();
  for (const request of requests) {
    if (request.requestedBase === undefined) continue;
    const base = pool.get(request.requestedBase);
    if (base !== undefined && (base.diskKey === undefined || base.diskKey === request.diskKey)) out.add(request.requestedBase);
  }
  return [...out];
}

export function planDiskExports(requests: readonly DiskRequest[], pool: PoolBases, missing: MissingBases): DiskExportPlan[] {
  return requests.map((request) => planOne(request, pool, missing));
}

function planOne(request: DiskRequest, pool: PoolBases, missing: MissingBases): DiskExportPlan {
  const { diskKey, requestedBase } = request;
  if (requestedBase === undefined) return { diskKey, mode: 'full', fullReason: 'requested' };
  const base = pool.get(requestedBase);
  if (base === undefined) {
    return full(diskKey, 'reference-gone', `the reference snapshot VDI ${requestedBase} is gone from the pool (deleted by an admin?); exporting a full instead of a delta`);
  }
  if (base.diskKey !== undefined && base.diskKey !== diskKey) {
    return full(diskKey, 'base-of-another-disk', `the base VDI ${requestedBase} is a snapshot of disk ${base.diskKey}, not of ${diskKey}; exporting a full`);
  }
  const lacking = missing.get(requestedBase) ?? [];
  if (lacking.length > 0) {
    return full(diskKey, 'remote-lacks-base', `remote ${lacking.join(', ')} does not hold base ${requestedBase} as the newest disk of a chain; exporting a full`);
  }
  return { diskKey, mode: 'delta', base: { uuid: requestedBase, ref: base.ref } };
}

/** The plan after XAPI refused to compute a delta for this disk. */
export function fallBackToFull(plan: DiskExportPlan, why: string): DiskExportPlan {
  return full(plan.diskKey, 'delta-export-failed', `XAPI could not compute the delta against ${plan.base?.uuid ?? '?'} (${why}); exporting a full`);
}

/** The plan when CBT cannot serve a delta whose reference kept only its CBT metadata. */
export function purgedReferenceFull(plan: DiskExportPlan, why: string): DiskExportPlan {
  return full(plan.diskKey, 'reference-purged', `the reference ${plan.base?.uuid ?? '?'} keeps only its CBT metadata and CBT cannot serve this delta (${why}); exporting a full`);
}

function full(diskKey: string, fullReason: FullReason, detail: string): DiskExportPlan {
  return { diskKey, mode: 'full', fullReason, detail };
}
