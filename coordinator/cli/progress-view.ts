// Live progress of tasks. In a terminal: one bar per task, redrawn in place. Otherwise: a plain
// line whenever a task changes state or passes another tenth of its work — fit for logs. A task is
// named by its kind and where it works (`taskLabel`, also `run show`'s WHAT column). A running
// task that moves bytes shows its rate over the last RATE_WINDOW_MS of updates and the time left at
// that rate (an estimate: it follows the rate of the moment, as `cp --progress` does).
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
  if (t.kind === 'mirror') return `mirror ${t.vmUuid.slice(0, 8)} ${(JSON.parse(t.payloadJson || '{}') as { sourceRemote?: string }).sourceRemote ?? '?'}→${t.remote}`;
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

/** The window the rate is taken over; a rate needs at least MIN_RATE_SPAN_MS of it. */
const RATE_WINDOW_MS = 10_000;
const MIN_RATE_SPAN_MS = 1_000;

/** "45s", "3m05s", "2h07m". */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** Bytes done over time, per task: the rate and the time left. */
class RateMeter {
  private readonly samples = new Map<string, Array<{ at: number; done: number }>>();

  /** "250 MiB/s ETA 9s" for a running task moving bytes, once its updates span a second; else ''. */
  describe(t: wire.TaskInfo, now: number): string {
    if (t.state !== 'running' || t.progressTotal <= 1 << 20) {
      this.samples.delete(t.id);
      return '';
    }
    let samples = this.samples.get(t.id);
    if (samples === undefined) this.samples.set(t.id, (samples = []));
    const last = samples.at(-1);
    // A retried attempt starts over: its rate must not mix with the one before.
    if (last !== undefined && t.progressDone < last.done) samples.length = 0;
    if (last === undefined || t.progressDone !== last.done || now - last.at >= MIN_RATE_SPAN_MS) samples.push({ at: now, done: t.progressDone });
    while (samples.length > 2 && now - samples[1]!.at >= RATE_WINDOW_MS) samples.shift();
    const first = samples[0]!;
    const span = now - first.at;
    if (span < MIN_RATE_SPAN_MS) return '';
    const rate = ((t.progressDone - first.done) * 1000) / span;
    if (rate <= 0) return 'stalled';
    return `${humanSize(rate)}/s ETA ${humanDuration(((t.progressTotal - t.progressDone) * 1000) / rate)}`;
  }
}

function describe(t: wire.TaskInfo, rate = ''): string {
  const f = fraction(t);
  const percent = f === undefined ? '' : `${Math.floor(f * 100)}%`;
  const side = t.errorSide ? ` (side: ${t.errorSide})` : '';
  const error = t.state === 'failed' || (t.state === 'queued' && t.errorCode) ? ` ${t.errorCode}${side}: ${t.errorMessage}` : '';
  return [t.state, percent, amount(t), rate].filter((s) => s !== '').join(' ') + error;
}

export class ProgressView {
  private drawn = 0;
  private readonly lastLine = new Map<string, string>();
  private readonly rates = new RateMeter();

  constructor(
    private readonly io: CliIo,
    private readonly now: () => number = Date.now,
  ) {}

  update(tasks: readonly wire.TaskInfo[]): void {
    if (this.io.isTTY) this.redraw(tasks);
    else this.appendChanges(tasks);
  }

  private redraw(tasks: readonly wire.TaskInfo[]): void {
    const labelWidth = Math.max(10, ...tasks.map((t) => taskLabel(t).length));
    const barWidth = Math.max(10, Math.min(30, this.io.columns - labelWidth - 40));
    const now = this.now();
    const lines = tasks.map((t) => `${taskLabel(t).padEnd(labelWidth)} ${progressBar(fraction(t), barWidth)} ${describe(t, this.rates.describe(t, now))}`.slice(0, this.io.columns - 1));
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    this.io.out(up + lines.map((l) => `\x1b[2K${l}\n`).join(''));
    this.drawn = lines.length;
  }

  private appendChanges(tasks: readonly wire.TaskInfo[]): void {
    const now = this.now();
    for (const t of tasks) {
      const rate = this.rates.describe(t, now);
      const f = fraction(t);
      const key = `${t.state} ${f === undefined ? '' : Math.floor(f * 10)} ${t.attempt} ${t.errorCode}`;
      if (this.lastLine.get(t.id) === key) continue;
      this.lastLine.set(t.id, key);
      this.io.out(`${new Date(now).toISOString()} ${taskLabel(t)}: ${describe(t, rate)}\n`);
    }
  }
}
