// Which backup serves "VM X as of date T": the newest committed backup of that VM taken at or
// before T — on the given remote, or on any remote (newest wins; equal times go to the remote
// first by name, and on one remote to the later in `backups`, which the catalogue lists oldest
// first: snapshot times have second precision, so two backups can share one). When none qualifies the answer says why, so the operator can pick a date.

export interface RestoreCandidate {
  id: string;
  vmUuid: string;
  remote: string;
  takenAt: Date;
  status: 'committed' | 'deleting' | 'deleted' | 'unverified';
}

export type RestoreResolution =
  | { ok: true; backup: RestoreCandidate }
  | { ok: false; reason: string };

export function resolveRestore(backups: readonly RestoreCandidate[], vmUuid: string, remote: string | undefined, at: Date): RestoreResolution {
  const vm = vmUuid.toLowerCase();
  const usable = backups.filter((b) => b.vmUuid.toLowerCase() === vm && b.status === 'committed' && (remote === undefined || b.remote === remote));
  const where = remote === undefined ? 'on any remote' : `on remote ${remote}`;
  if (usable.length === 0) return { ok: false, reason: `no backup of VM ${vmUuid} ${where}` };
  const before = usable.filter((b) => b.takenAt.getTime() <= at.getTime());
  if (before.length === 0) {
    const earliest = usable.reduce((a, b) => (b.takenAt < a.takenAt ? b : a));
    return { ok: false, reason: `no backup of VM ${vmUuid} ${where} at or before ${at.toISOString()}; the earliest is ${earliest.takenAt.toISOString()} (${earliest.id})` };
  }
  const best = before.reduce((a, b) => {
    const diff = b.takenAt.getTime() - a.takenAt.getTime();
    if (diff !== 0) return diff > 0 ? b : a;
    if (b.remote === a.remote) return b;
    return b.remote < a.remote ? b : a;
  });
  return { ok: true, backup: best };
}
