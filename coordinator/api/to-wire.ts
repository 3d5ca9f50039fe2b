// Catalogue records → control API messages. Generated types stop here: nothing beyond the API
// layer sees them. Absent times become 0, absent strings "".
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import type { AgentRecord, BackupListing, Pool, Remote, RunRecord, TaskRecord, VmRecord } from '../catalogue/index.js';
import type { Policy, PolicySettings } from '../policy/index.js';

export const ms = (date: Date | null | undefined): number => (date ? date.getTime() : 0);

export function settingsToWire(s: PolicySettings): wire.PolicySettings {
  return {
    name: s.name,
    selection: { vmUuids: s.selection.vmUuids, tags: s.selection.tags, pools: s.selection.pools },
    remotes: s.remotes,
    cron: s.schedule.cron,
    timeZone: s.schedule.timeZone,
    retention: s.retention,
    fullInterval: s.fullInterval,
    concurrency: s.concurrency,
    enabled: s.enabled,
    purgeSnapshotData: s.purgeSnapshotData,
  };
}

/** Wire settings → the raw object policy validation expects (validation happens there). */
export function settingsFromWire(s: wire.PolicySettings | undefined): unknown {
  if (!s) return {};
  return {
    name: s.name,
    selection: { vmUuids: s.selection?.vmUuids ?? [], tags: s.selection?.tags ?? [], pools: s.selection?.pools ?? [] },
    remotes: s.remotes,
    schedule: { cron: s.cron, timeZone: s.timeZone === '' ? 'UTC' : s.timeZone },
    retention: s.retention,
    fullInterval: s.fullInterval,
    concurrency: s.concurrency,
    enabled: s.enabled,
    purgeSnapshotData: s.purgeSnapshotData ?? true,
  };
}

export function policyToWire(p: Policy, extra: { nextRunAt?: Date | undefined; lastRun?: RunRecord | undefined }): wire.Policy {
  return {
    id: p.id,
    settings: settingsToWire(p),
    createdAtMs: ms(p.createdAt),
    updatedAtMs: ms(p.updatedAt),
    nextRunAtMs: p.enabled ? ms(extra.nextRunAt) : 0,
    lastRunState: extra.lastRun?.state ?? '',
    lastRunAtMs: ms(extra.lastRun?.createdAt),
  };
}

export function poolToWire(p: Pool): wire.Pool {
  return { name: p.name, site: p.site, description: p.description, createdAtMs: ms(p.createdAt), vmCount: p.vmCount, agentCount: p.agentCount };
}

export function remoteToWire(r: Remote): wire.Remote {
  return {
    name: r.name,
    address: r.address,
    site: r.site,
    location: r.location,
    description: r.description,
    createdAtMs: ms(r.createdAt),
    lastScanAtMs: ms(r.lastScanAt),
    backupCount: r.backupCount,
    sizeBytes: r.sizeBytes,
  };
}

export function agentToWire(a: AgentRecord): wire.Agent {
  return {
    id: a.id,
    role: a.role,
    target: a.poolName ?? a.remoteName ?? '',
    version: a.version,
    hostname: a.hostname,
    address: a.address,
    runningTasks: a.runningTasks,
    concurrency: a.concurrency,
    startedAtMs: ms(a.startedAt),
    lastHeartbeatAtMs: ms(a.lastHeartbeatAt),
    known: a.known,
    registeredAddress: a.registeredAddress,
    addressMismatch: a.addressMismatch,
  };
}

export function vmToWire(v: VmRecord): wire.Vm {
  return { uuid: v.uuid, pool: v.poolName, nameLabel: v.nameLabel, tags: v.tags, powerState: v.powerState, lastSeenAtMs: ms(v.lastSeenAt) };
}

export function backupToWire(b: BackupListing): wire.Backup {
  return {
    id: b.id,
    vmUuid: b.vmUuid,
    vmName: b.vmName,
    remote: b.remoteName,
    takenAtMs: ms(b.takenAt),
    status: b.status,
    sizeBytes: b.sizeBytes,
    policyId: b.policyId ?? '',
    diskCount: b.diskCount,
    fullDiskCount: b.fullDiskCount,
    snapshotKey: b.snapshotKey ?? '',
    damage: b.damage.map((d) => ({
      diskKey: d.diskKey,
      file: d.file,
      blocks: d.blocks,
      reason: d.reason,
      foundBy: d.foundBy,
      firstFoundAtMs: Date.parse(d.firstFoundAt) || 0,
      lastFoundAtMs: Date.parse(d.lastFoundAt) || 0,
    })),
  };
}

export function runToWire(r: RunRecord): wire.Run {
  return {
    id: r.id,
    policyId: r.policyId ?? '',
    policyName: r.policyName,
    scheduledAtMs: ms(r.scheduledAt),
    trigger: r.trigger,
    state: r.state,
    createdAtMs: ms(r.createdAt),
    startedAtMs: ms(r.startedAt),
    finishedAtMs: ms(r.finishedAt),
    error: r.error ?? '',
  };
}

export function taskToWire(t: TaskRecord): wire.TaskInfo {
  return {
    id: t.id,
    runId: t.runId ?? '',
    kind: t.kind,
    addressKind: t.addressKind,
    address: t.address,
    remote: t.remoteName ?? '',
    vmUuid: t.vmUuid ?? '',
    state: t.state,
    attempt: t.attempt,
    maxAttempts: t.maxAttempts,
    createdAtMs: ms(t.createdAt),
    startedAtMs: ms(t.startedAt),
    finishedAtMs: ms(t.finishedAt),
    notBeforeMs: t.state === 'queued' ? ms(t.notBefore) : 0,
    progressDone: t.progressDone ?? 0,
    progressTotal: t.progressTotal ?? 0,
    errorCode: t.errorCode ?? '',
    errorMessage: t.errorMessage ?? '',
    errorSide: t.errorSide ?? '',
    payloadJson: JSON.stringify(t.payload ?? {}),
    resultJson: t.result === null || t.result === undefined ? '' : JSON.stringify(t.result),
  };
}
