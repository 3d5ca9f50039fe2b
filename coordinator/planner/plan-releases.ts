// Which reference snapshots a policy no longer needs, and which pools must destroy them.
//
// A policy keeps one reference snapshot per VM and remote on the VM's pool (the base of the next
// delta to that remote). One is no longer needed when
//   * the VM left the policy (its uuid, tag or pool was removed, or the VM is gone): every
//     reference of the VM goes (keep no remote);
//   * the policy no longer writes to that remote: the VM's references for the remotes the policy
//     still writes to stay (keep = the policy's remotes);
//   * the policy was deleted: every reference of the policy on the pool goes.
// The plan is one release per pool and reason, naming the VMs (sorted, for stable payloads).
//
// A reference for a dropped remote can still be the initial seed of a remote the policy now
// writes to (plan-backup.ts: its VDIs are the tails of that remote's chains): `withoutSeedsInUse`
// holds such a VM back, at dispatch, until its first delta there gave it a reference of its own.
import { chooseReference, type ReferenceView } from './plan-backup.js';
import type { ChainTail } from './plan-disk-mode.js';

export type ReleaseReason = 'left-policy' | 'remote-dropped' | 'policy-deleted';

export interface ReleasePlan {
  pool: string;
  reason: ReleaseReason;
  /** The VMs whose references go; empty = every VM of the pool with a reference of the policy. */
  vmUuids: string[];
  /** The remotes whose references stay. */
  keepRemotes: string[];
}

/** A reference the catalogue holds: which VM (on which pool), for which remote. */
export interface HeldReference {
  vmUuid: string;
  remote: string;
  pool: string;
}

export interface ReleaseInput {
  /** The remotes the policy writes to now. */
  remotes: readonly string[];
  /** The VMs the policy selects now. */
  selected: ReadonlySet<string>;
  references: readonly HeldReference[];
}

export function planReleases(input: ReleaseInput): ReleasePlan[] {
  const remotes = new Set(input.remotes);
  const groups = new Map<string, { pool: string; reason: ReleaseReason; vms: Set<string> }>();
  for (const ref of input.references) {
    const reason: ReleaseReason | undefined = !input.selected.has(ref.vmUuid) ? 'left-policy' : !remotes.has(ref.remote) ? 'remote-dropped' : undefined;
    if (!reason) continue;
    const key = `${ref.pool}/${reason}`;
    const group = groups.get(key) ?? { pool: ref.pool, reason, vms: new Set<string>() };
    group.vms.add(ref.vmUuid);
    groups.set(key, group);
  }
  const keep = [...remotes].sort();
  return [...groups.values()]
    .sort((a, b) => a.pool.localeCompare(b.pool) || a.reason.localeCompare(b.reason))
    .map((g) => ({ pool: g.pool, reason: g.reason, vmUuids: [...g.vms].sort(), keepRemotes: g.reason === 'left-policy' ? [] : keep }));
}

/** A deleted policy: every reference it kept on each of these pools goes. */
export function planPolicyDeletedReleases(pools: Iterable<string>): ReleasePlan[] {
  return [...new Set(pools)].sort().map((pool) => ({ pool, reason: 'policy-deleted' as const, vmUuids: [], keepRemotes: [] }));
}

export interface SeedCheckInput {
  vmUuids: readonly string[];
  keepRemotes: readonly string[];
  /** VM → the policy's references of it, every remote. */
  references: (vmUuid: string) => ReferenceView[];
  /** VM and remote → disk key → that remote's chain tail. */
  chains: (vmUuid: string, remote: string) => Record<string, ChainTail>;
}

/**
 * Splits the VMs of a release into those whose references can go now and those held back: a
 * kept remote of theirs has no reference of its own yet and would seed from a reference this
 * release destroys.
 */
export function withoutSeedsInUse(input: SeedCheckInput): { release: string[]; heldAsSeed: string[] } {
  const keep = new Set(input.keepRemotes);
  const release: string[] = [];
  const heldAsSeed: string[] = [];
  for (const vm of input.vmUuids) {
    const references = input.references(vm);
    const seeds = input.keepRemotes.some((remote) => {
      const chosen = chooseReference(remote, references, input.chains(vm, remote));
      return chosen !== undefined && !keep.has(chosen.remote);
    });
    (seeds ? heldAsSeed : release).push(vm);
  }
  return { release, heldAsSeed };
}
