// The plan of one backup task (one VM, one remote): full or delta for each disk the reference
// snapshot knows, and which reference to export deltas against. Disks the plan does not name
// (added to the VM since) are exported full by the host agent.
//
// The reference is the policy's snapshot kept for this remote. When there is none — the policy
// was just retargeted to this remote — a reference kept for another remote serves if this
// remote's chains end exactly at its VDIs: that is the initial seed (copy a remote's files
// elsewhere, scan them in, and the next run there is a delta).
import { planDiskMode, type ChainTail, type DiskMode } from './plan-disk-mode.js';

export interface ReferenceView {
  /** The remote this reference was last used for. */
  remote: string;
  snapshotUuid: string;
  /** Disk key → snapshot VDI uuid. */
  vdis: Record<string, string>;
  gone: boolean;
}

export interface BackupPlanInput {
  remote: string;
  /** The policy's references for this VM, on every remote. */
  references: ReferenceView[];
  /** Disk key → the newest chain of that disk on this remote. */
  chains: Record<string, ChainTail>;
  fullInterval: number;
  forceFull?: boolean;
}

export interface BackupPlan {
  /** The reference the deltas are based on, if any disk is a delta. */
  reference: ReferenceView | undefined;
  disks: Record<string, DiskMode>;
  /** Disk key → base VDI uuid, for the delta disks only (the task's payload). */
  bases: Record<string, string>;
}

/** This remote's reference, or else one whose every disk is a chain tail here (the seed). */
export function chooseReference(remote: string, references: ReferenceView[], chains: Record<string, ChainTail>): ReferenceView | undefined {
  const own = references.find((r) => r.remote === remote);
  if (own) return own;
  return references.find((r) => {
    const keys = Object.keys(r.vdis);
    return !r.gone && keys.length > 0 && keys.every((key) => chains[key]?.footerUuid.toLowerCase() === r.vdis[key]!.toLowerCase());
  });
}

export function planBackup(input: BackupPlanInput): BackupPlan {
  const reference = chooseReference(input.remote, input.references, input.chains);
  const disks: Record<string, DiskMode> = {};
  const bases: Record<string, string> = {};
  for (const diskKey of Object.keys(reference?.vdis ?? {}).sort()) {
    const mode = planDiskMode({
      referenceVdiUuid: reference?.vdis[diskKey],
      referenceGone: reference?.gone ?? false,
      chain: input.chains[diskKey],
      fullInterval: input.fullInterval,
      forceFull: input.forceFull ?? false,
    });
    disks[diskKey] = mode;
    if (mode.mode === 'delta') bases[diskKey] = mode.baseVdiUuid;
  }
  return { reference: Object.keys(bases).length > 0 ? reference : undefined, disks, bases };
}
