// Live progress of tasks. In a terminal: one bar per task, redrawn in place. Otherwise: a plain
// line whenever a task changes state or passes another tenth of its work — fit for logs. A task is
// named by its kind and where it works (`taskLabel`, also `run show`'s WHAT column).
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import type { CliIo } from './cli-io.js';
import { humanSize } from '../../shared/human-units.js';

const RELEASE_REASONS: Record<string, string> = { 'left-policy': 'left the policy', 'remote-dropped': 'remotes dropped', 'policy-deleted': 'policy deleted' };

/** A release of reference snapshots: the pool, whose, why, and what went once it is done. */
function releaseLabel(t: wire.TaskInfo): string {
  const p = JSON.parse(t.payloadJson || '{}') as { vmUuids?: string[]; keepRemotes?: string[]; reason?: string; heldAsSeed?: string[] };
  const vms = p.vmUuids?.length ? `${p.vmUuids.length} VM${p.vmUuids.length === 1 ? '' : 's'}` : 'every VM';
  const keep = p.keepRemotes?.length ? `, keep ${p.keepRemotes.join(',')}` : '';
  const held = p.heldAsSeed?.length ? `, ${p.heldAsSeed.length} held as seed` : '';
  const result = t.resultJson ? (JSON.parse(t.resultJson) as { destroyedSnapshotUuids?: string[]; destroyedOrphanVdiUuids?: string[] }) : undefined;
  const destroyed = result?.destroyedSnapshotUuids ? `: ${result.destroyedSnapshotUuids.length} destroyed` : '';
  const orphans = result?.destroyedOrphanVdiUuids?.length ? `, ${result.destroyedOrphanVdiUuids.length} orphan CBT metadata VDI${result.destroyedOrphanVdiUuids.length === 1 ? '' : 's'}` : '';
  return `release ${t.address} ${vms} (${RELEASE_REASONS[p.reason ?? ''] ?? p.reason}${keep}${held})${destroyed}${orphans}`;
}

export function taskLabel(t: wire.TaskInfo): string {
  if (t.kind === 'release') return releaseLabel(t);
  const vm = t.vmUuid ? t.vmUuid.slice(0, 8) : '';
  const where = t.remote && t.kind !== 'scan' ? `${vm}→${t.remote}` : t.address;
  return `${t.kind} ${where}`.trim();
}

function fraction(t: wire.TaskInfo): number | undefined {
  if (t.state === 'succeeded') return 1;
  return t.progressTotal > 0 ? Math.min(1, t.progressDone / t.progressTotal) : undefined;
}

export function progressBar(f: number | undefined, width: number): string {
  if (f === undefined) return `[${' '.repeat(width)}]`;
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function amount(t: wire.TaskInfo): string {
  if (t.progressTotal === 0) return '';
  const big = t.progressTotal > 1 << 20;
  return big ? `${humanSize(t.progressDone)}/${humanSize(t.progressTotal)}` : `${t.progressDone}/${t.progressTotal}`;
}

function describe(t: wire.TaskInfo): string {
  const f = fraction(t);
  const percent = f === undefined ? '' : `${Math.floor(f * 100)}%`;
  const side = t.errorSide ? ` (side: ${t.errorSide})` : '';
  const error = t.state === 'failed' || (t.state === 'queued' && t.errorCode) ? ` ${t.errorCode}${side}: ${t.errorMessage}` : '';
  return [t.state, percent, amount(t)].filter((s) => s !== '').join(' ') + error;
}

export class ProgressView {
  private drawn = 0;
  private readonly lastLine = new Map<string, string>();

  constructor(private readonly io: CliIo) {}

  update(tasks: readonly wire.TaskInfo[]): void {
    if (this.io.isTTY) this.redraw(tasks);
    else this.appendChanges(tasks);
  }

  private redraw(tasks: readonly wire.TaskInfo[]): void {
    const labelWidth = Math.max(10, ...tasks.map((t) => taskLabel(t).length));
    const barWidth = Math.max(10, Math.min(30, this.io.columns - labelWidth - 40));
    const lines = tasks.map((t) => `${taskLabel(t).padEnd(labelWidth)} ${progressBar(fraction(t), barWidth)} ${describe(t)}`.slice(0, this.io.columns - 1));
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    this.io.out(up + lines.map((l) => `\x1b[2K${l}\n`).join(''));
    this.drawn = lines.length;
  }

  private appendChanges(tasks: readonly wire.TaskInfo[]): void {
    for (const t of tasks) {
      const f = fraction(t);
      const key = `${t.state} ${f === undefined ? '' : Math.floor(f * 10)} ${t.attempt} ${t.errorCode}`;
      if (this.lastLine.get(t.id) === key) continue;
      this.lastLine.set(t.id, key);
      this.io.out(`${new Date().toISOString()} ${taskLabel(t)}: ${describe(t)}\n`);
    }
  }
}
