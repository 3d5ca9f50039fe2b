// Queues mirror copies (docs/multi-site.md, "Mirrors"): for a mirror and a VM, one task that copies
// the next restore point the target lacks (planner/plan-mirror.ts) — unless a copy of that VM for
// that mirror is already queued or running. One copy at a time per mirror and VM, re-planned after
// each (its success queues the next), so a mirror behind by several backups catches up in order
// and a crash or a failed copy simply resumes from the catalogue.
//
// Queued after a backup or a copy succeeds on the mirror's source (queue-follow-ups.ts), and by
// `deltachain mirror run`. Two transactions that queue for the same mirror and VM at once are
// serialised by a transaction-scoped advisory lock, so neither sees the other's row missing.
import type { Queryable, TaskRecord } from '../catalogue/index.js';
import { activeMirrorCopies, mirrorCopyKey, mirrorPointsOf, type Mirror } from '../catalogue/mirrors.js';
import type { TaskLimits } from '../lifecycle/index.js';
import { nextMirrorCopy, type MirrorPoint } from '../planner/index.js';
import type { Ids, MirrorPayload } from '../tasks/index.js';
import { queueTask } from './queue-task.js';

export interface MirrorCopyWanted {
  mirror: Mirror;
  vmUuid: string;
  runId: string | null;
}

/** Whether a mirror copies a VM at all (enabled, and the VM among its VMs when it names some). */
export function mirrorCopiesVm(mirror: Mirror, vmUuid: string): boolean {
  return mirror.enabled && (mirror.vmUuids.length === 0 || mirror.vmUuids.includes(vmUuid));
}

/** Queues the next copy of each (mirror, VM) wanted; returns the tasks queued. */
export async function queueMirrorCopies(db: Queryable, wanted: readonly MirrorCopyWanted[], ids: Ids, limits: TaskLimits, now: Date): Promise<TaskRecord[]> {
  const queued: TaskRecord[] = [];
  const seen = new Set<string>();
  for (const want of wanted) {
    const key = mirrorCopyKey(want.mirror.id, want.vmUuid);
    if (seen.has(key) || !mirrorCopiesVm(want.mirror, want.vmUuid)) continue;
    seen.add(key);
    await db`select pg_advisory_xact_lock(hashtext(${`mirror/${key}`}))`;
    if ((await activeMirrorCopies(db)).has(key)) continue;
    const next = await nextCopy(db, want);
    if (next) queued.push(await queueTask(db, { id: ids.uuid(), ...where(want), kind: 'mirror', payload: payloadOf(want.mirror, next) }, limits, now));
  }
  return queued;
}

async function nextCopy(db: Queryable, { mirror, vmUuid }: MirrorCopyWanted): Promise<MirrorPoint | undefined> {
  const [source, target] = await Promise.all([mirrorPointsOf(db, vmUuid, mirror.sourceRemote), mirrorPointsOf(db, vmUuid, mirror.targetRemote)]);
  return nextMirrorCopy(source, target, mirror.retention);
}

function where({ mirror, vmUuid, runId }: MirrorCopyWanted) {
  return { addressKind: 'remote' as const, address: mirror.targetRemote, remoteName: mirror.targetRemote, vmUuid, runId };
}

function payloadOf(mirror: Mirror, point: MirrorPoint): MirrorPayload {
  return {
    mirrorId: mirror.id,
    mirrorName: mirror.name,
    sourceRemote: mirror.sourceRemote,
    backupId: point.id,
    policyId: point.policyId,
    vmName: point.vmName,
    disks: point.disks.map((d) => ({ diskKey: d.diskKey, footerUuid: d.footerUuid, chainDigest: d.chainDigest })),
  };
}
