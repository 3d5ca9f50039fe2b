// What a finished run did, in plain data: per backup task the VM, remote, backup id, bytes sent
// and how many of its disks landed on the remote as fulls (read from the catalogue's backup
// rows — the plan in a task's payload names no disk on a first run, so it cannot say "full");
// the merges and deletions retention ran; and the tasks that failed. Pure: the story prints it,
// the checks and the end-to-end tests assert on it.
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';

export interface BackupOutcome {
  vmUuid: string;
  remote: string;
  backupId: string;
  bytesSent: number;
  durationMs: number;
  /** Disks in the backup, and how many are fulls; undefined when the catalogue has no row. */
  disks: number | undefined;
  fullDisks: number | undefined;
  /** The coordinator's plan per disk key (empty on a first backup: every disk goes full). */
  plan: Record<string, 'full' | 'delta'>;
  /** Per disk the host agent reported: how it was read (`cbt-nbd`, `vhd-export`) and why not over CBT, if it said. */
  reads: Array<{ diskKey: string; readMethod: string; fallbackReason: string }>;
}

export interface RetentionOutcome {
  kind: 'merge' | 'delete';
  remote: string;
  vmUuid: string;
  backupId: string;
  /** Merges: the backups retired into the merged one. */
  retired: string[];
}

export interface RunSummary {
  runId: string;
  state: string;
  backups: BackupOutcome[];
  retention: RetentionOutcome[];
  failed: { kind: string; address: string; vmUuid: string; error: string }[];
}

interface BackupTaskPayload {
  backupId?: string;
  plan?: Record<string, { mode: 'full' | 'delta' }>;
}

function json<T>(text: string): T {
  return (text === '' ? {} : JSON.parse(text)) as T;
}

export function summarizeRun(run: wire.RunDetail, catalogue: wire.Backup[]): RunSummary {
  const byKey = new Map(catalogue.map((b) => [`${b.remote}/${b.id}`, b]));
  const done = run.tasks.filter((t) => t.state === 'succeeded');
  const backups = done
    .filter((t) => t.kind === 'backup')
    .map((t): BackupOutcome => {
      const payload = json<BackupTaskPayload>(t.payloadJson);
      const result = json<{ backupId?: string; bytesSent?: number; reads?: Array<{ diskKey?: string; readMethod?: string; fallbackReason?: string }> }>(t.resultJson);
      const backupId = result.backupId ?? payload.backupId ?? '';
      const row = byKey.get(`${t.remote}/${backupId}`);
      return {
        vmUuid: t.vmUuid,
        remote: t.remote,
        backupId,
        bytesSent: Number(result.bytesSent ?? 0),
        durationMs: t.finishedAtMs > 0 && t.startedAtMs > 0 ? t.finishedAtMs - t.startedAtMs : 0,
        disks: row?.diskCount,
        fullDisks: row?.fullDiskCount,
        plan: Object.fromEntries(Object.entries(payload.plan ?? {}).map(([disk, p]) => [disk, p.mode])),
        reads: (result.reads ?? []).map((d) => ({ diskKey: d.diskKey ?? '', readMethod: d.readMethod ?? '', fallbackReason: d.fallbackReason ?? '' })),
      };
    });
  const retention = done
    .filter((t) => t.kind === 'merge' || t.kind === 'delete')
    .map((t): RetentionOutcome => {
      const payload = json<{ backupId?: string; retires?: string[] }>(t.payloadJson);
      const result = json<{ retiredBackupIds?: string[] }>(t.resultJson);
      return { kind: t.kind as 'merge' | 'delete', remote: t.remote, vmUuid: t.vmUuid, backupId: payload.backupId ?? '', retired: result.retiredBackupIds ?? payload.retires ?? [] };
    });
  const failed = run.tasks
    .filter((t) => t.state === 'failed' || t.state === 'cancelled')
    .map((t) => ({ kind: t.kind, address: t.address, vmUuid: t.vmUuid, error: `${t.errorCode}: ${t.errorMessage}` }));
  return { runId: run.run?.id ?? '', state: run.run?.state ?? '', backups, retention, failed };
}

/** "full", "delta" or "mixed" for a backup that landed on the remote. */
export function backupKind(b: BackupOutcome): 'full' | 'delta' | 'mixed' | 'unknown' {
  if (b.disks === undefined || b.fullDisks === undefined) return 'unknown';
  if (b.fullDisks === b.disks) return 'full';
  return b.fullDisks === 0 ? 'delta' : 'mixed';
}
