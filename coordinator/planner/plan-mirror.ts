// What a mirror copies next for one VM (docs/multi-site.md, "Mirrors"): the oldest restore point
// of the source that the target lacks and that is newer than everything the target holds. Only
// newer points: a copy lands on the tail of the target's chain (as the source's delta when the
// target holds its parent) and never in the middle of it. A target that holds nothing starts at
// the oldest of the source's newest `retention` points, copied whole, so a new mirror does not copy
// what its own retention would merge away at once.
//
// The target holds a source point when it has a backup with the same id (a copy) or one taken at
// the same time of the same VDI snapshots (the same run wrote both remotes, or a seed adopted by a
// scan): nothing crosses for those.

export interface MirrorPointDisk {
  diskKey: string;
  footerUuid: string;
  /** Hex chain digest recorded at commit; '' when unknown. */
  chainDigest: string;
  parentFooterUuid: string | null;
}

export interface MirrorPoint {
  id: string;
  takenAt: Date;
  policyId: string | null;
  vmName: string;
  disks: MirrorPointDisk[];
}

/** The source points a mirror still has to copy for one VM, oldest first (the first is next). */
export function mirrorBacklog(source: readonly MirrorPoint[], target: readonly MirrorPoint[], retention: number): MirrorPoint[] {
  if (!Number.isInteger(retention) || retention < 1) throw new RangeError(`retention must be a whole number ≥ 1, got ${retention}`);
  const ordered = pointOrder(source);
  if (target.length === 0) return ordered.slice(-retention);
  const held = new Set(target.map((p) => p.id));
  const snapshots = new Set(target.map(snapshotKey));
  const holds = (p: MirrorPoint): boolean => held.has(p.id) || snapshots.has(snapshotKey(p));
  // After the newest point the target holds, in the source's chain order (points of one second
  // included); when it holds none of them, after its newest time.
  const last = ordered.map(holds).lastIndexOf(true);
  if (last >= 0) return ordered.slice(last + 1).filter((p) => !holds(p));
  const newest = Math.max(...target.map((p) => p.takenAt.getTime()));
  return ordered.filter((p) => p.takenAt.getTime() > newest);
}

export function nextMirrorCopy(source: readonly MirrorPoint[], target: readonly MirrorPoint[], retention: number): MirrorPoint | undefined {
  return mirrorBacklog(source, target, retention)[0];
}

function snapshotKey(point: MirrorPoint): string {
  const footers = point.disks.map((d) => `${d.diskKey}=${d.footerUuid}`).sort();
  return `${point.takenAt.getTime()}|${footers.join(',')}`;
}

/** By time; points of the same second after the points their disks descend from. */
function pointOrder(points: readonly MirrorPoint[]): MirrorPoint[] {
  const byTime = [...points].sort((a, b) => a.takenAt.getTime() - b.takenAt.getTime() || a.id.localeCompare(b.id));
  const ownerOf = new Map(points.flatMap((p) => p.disks.map((d) => [d.footerUuid, p.id] as const)));
  const placed = new Set<string>();
  const ordered: MirrorPoint[] = [];
  const ready = (p: MirrorPoint): boolean => p.disks.every((d) => d.parentFooterUuid === null || placed.has(ownerOf.get(d.parentFooterUuid) ?? '') || !ownerOf.has(d.parentFooterUuid));
  while (ordered.length < byTime.length) {
    const next = byTime.find((p) => !placed.has(p.id) && ready(p)) ?? byTime.find((p) => !placed.has(p.id))!;
    placed.add(next.id);
    ordered.push(next);
  }
  return ordered;
}
