// Retention for one VM on one remote: keep the newest `retention` committed backups, and bring
// the rest to nothing without ever breaking a kept backup.
//
// A backup depends on another when one of its delta disks has a disk of the other as parent.
// The kept backups' ancestors (transitively) cannot simply go: each is merged away, oldest
// first, by merging its child into it — the storage agent's merge copies the child's blocks
// into the parent's file, renames it to the child's name and retires the parent backup. So the
// merge steps name the children. Everything else unkept is deleted outright, newest first, so
// each deletion frees that backup's own files (an older chain goes once nothing in it is kept).
//
// The plan is recomputed after every step (the executor runs one action at a time per VM and
// remote), which makes an interrupted plan simply resume.

export interface RetentionBackup {
  id: string;
  takenAt: Date;
  /** The backups this one's delta disks depend on (their parents' backups); empty for a full. */
  parents: string[];
}

export type RetentionAction =
  | { type: 'delete'; backupId: string }
  | { type: 'merge'; backupId: string; retires: string[] };

export interface RetentionPlan {
  keep: string[];
  /** Deletions first (newest first), then merges (oldest first). */
  actions: RetentionAction[];
}

export function planRetention(backups: readonly RetentionBackup[], retention: number): RetentionPlan {
  if (!Number.isInteger(retention) || retention < 1) throw new RangeError(`retention must be a whole number ≥ 1, got ${retention}`);
  const byId = new Map(backups.map((b) => [b.id, b]));
  const ordered = chainOrder(backups, byId);
  const keep = ordered.slice(-retention);
  const kept = new Set(keep.map((b) => b.id));
  const needed = ancestorsOf(keep, byId);
  const actions: RetentionAction[] = [];
  for (const backup of [...ordered].reverse()) {
    if (!kept.has(backup.id) && !needed.has(backup.id)) actions.push({ type: 'delete', backupId: backup.id });
  }
  for (const backup of ordered) {
    const retires = backup.parents.filter((p) => needed.has(p) && !kept.has(p));
    if (retires.length > 0) actions.push({ type: 'merge', backupId: backup.id, retires });
  }
  return { keep: keep.map((b) => b.id), actions };
}

/**
 * Oldest first, every backup after the backups it depends on. Snapshot times have second
 * precision and ids are random after the date, so two backups of one second are ordered by their
 * dependency, never by their ids: a child taken for older than its parent would make retention
 * keep the parent and merge the child away into it.
 */
function chainOrder(backups: readonly RetentionBackup[], byId: Map<string, RetentionBackup>): RetentionBackup[] {
  const byTime = [...backups].sort((a, b) => a.takenAt.getTime() - b.takenAt.getTime() || a.id.localeCompare(b.id));
  const placed = new Set<string>();
  const ordered: RetentionBackup[] = [];
  const ready = (b: RetentionBackup): boolean => b.parents.every((p) => placed.has(p) || !byId.has(p));
  while (ordered.length < byTime.length) {
    const next = byTime.find((b) => !placed.has(b.id) && ready(b)) ?? byTime.find((b) => !placed.has(b.id))!;
    placed.add(next.id);
    ordered.push(next);
  }
  return ordered;
}

function ancestorsOf(from: readonly RetentionBackup[], byId: Map<string, RetentionBackup>): Set<string> {
  const seen = new Set<string>();
  const stack = from.flatMap((b) => b.parents);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(byId.get(id)?.parents ?? []));
  }
  return seen;
}

/** The action to run now, or undefined when the remote already matches the policy. */
export function nextRetentionAction(plan: RetentionPlan): RetentionAction | undefined {
  return plan.actions[0];
}
