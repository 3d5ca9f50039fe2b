// Steps of the end-to-end scenarios, on a running lab stack: find a lab VM, make a policy, back
// up (the lab pool's digests of every disk taken right before the run, kept in a ledger under
// the backup each run produced), let the guest write, restore by backup id or by date to any
// pool and check every restored disk against the ledger, count reference snapshots, and destroy
// a VM with everything on its SR the way an administrator would, through XAPI.
import assert from 'node:assert/strict';
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { digestVm, type DiskDigestEntry, applyGuestWrites, type PlannedWrite, PoolXapi, restoreAndWait, runPolicyAndWait, summarizeRun, type BackupOutcome, type RunSummary, type LabStack } from '../../lab/story/index.js';

/** What the steps use of a stack: its pools (the lab's admin API, XAPI) and a coordinator's control API. */
export type E2eParts = Pick<LabStack, 'pools' | 'control'>;

export interface E2eVm {
  uuid: string;
  name: string;
  pool: string;
  /** Disk VDI uuids in device order. */
  vdis: string[];
}

export async function findVm(stack: E2eParts, pool: string, name: string): Promise<E2eVm> {
  const vm = (await stack.pools.get(pool)!.admin.state()).vms.find((v) => v.name === name && !v.isSnapshot);
  assert.ok(vm, `no VM ${name} in pool ${pool}`);
  const disks = [...vm.disks].sort((a, b) => Number(a.userdevice) - Number(b.userdevice));
  return { uuid: vm.uuid, name, pool, vdis: disks.map((d) => d.vdi) };
}

export function policySettings(name: string, vms: E2eVm[], remotes: string[], o: { retention: number; fullInterval: number }): wire.PolicySettings {
  return {
    name,
    selection: { vmUuids: vms.map((v) => v.uuid), tags: [], pools: [] },
    remotes,
    cron: '0 3 * * *',
    timeZone: 'UTC',
    retention: o.retention,
    fullInterval: o.fullInterval,
    concurrency: 2,
    enabled: true,
  };
}

/** Backup (remote/id) → the lab pool's digests of the VM's disks when it was taken. */
export class DigestLedger {
  private readonly entries = new Map<string, DiskDigestEntry[]>();

  record(remote: string, backupId: string, digests: DiskDigestEntry[]): void {
    this.entries.set(`${remote}/${backupId}`, digests);
  }

  get(remote: string, backupId: string): DiskDigestEntry[] {
    const digests = this.entries.get(`${remote}/${backupId}`);
    assert.ok(digests, `no digests recorded for backup ${backupId} on ${remote}`);
    return digests;
  }
}

export interface BackupRun {
  summary: RunSummary;
  /** The run's backup of a VM to a remote. */
  backup(vm: E2eVm, remote: string): BackupOutcome;
  /** The coordinator's plan for that backup: disk → "mode: reason". */
  plans(vm: E2eVm, remote: string): Record<string, string>;
}

/** Runs the policy now and waits; asserts it succeeded; records the digests of each backup. */
export async function backUp(stack: E2eParts, policy: string, vms: E2eVm[], ledger: DigestLedger): Promise<BackupRun> {
  const digests = new Map<string, DiskDigestEntry[]>();
  for (const vm of vms) digests.set(vm.uuid, await digestVm(stack.pools.get(vm.pool)!.admin, vm.uuid));
  const run = await runPolicyAndWait(stack.control, policy);
  const catalogue = (await stack.control.listBackups({ vmUuid: '', remote: '', all: false })).backups;
  const summary = summarizeRun(run, catalogue);
  assert.equal(summary.state, 'succeeded', `run of ${policy}: ${summary.state}: ${summary.failed.map((f) => `${f.kind} ${f.address} ${f.error}`).join('; ')}`);
  for (const b of summary.backups) ledger.record(b.remote, b.backupId, digests.get(b.vmUuid)!);
  return {
    summary,
    plans(vm, remote) {
      const task = run.tasks.find((t) => t.kind === 'backup' && t.vmUuid === vm.uuid && t.remote === remote);
      const plan = (JSON.parse(task?.payloadJson || '{}') as { plan?: Record<string, { mode: string; reason: string }> }).plan ?? {};
      return Object.fromEntries(Object.entries(plan).map(([disk, p]) => [disk, `${p.mode}: ${p.reason}`]));
    },
    backup(vm, remote) {
      const found = summary.backups.find((b) => b.vmUuid === vm.uuid && b.remote === remote);
      assert.ok(found, `run ${summary.runId} has no backup of ${vm.name} to ${remote}`);
      return found;
    },
  };
}

/** Applies guest writes to a VM's disks; returns the number of 2 MiB blocks changed. */
export async function writeGuest(stack: E2eParts, vm: E2eVm, writes: PlannedWrite[]): Promise<number> {
  const done = await applyGuestWrites(stack.pools.get(vm.pool)!.admin, vm.vdis, writes);
  return done.reduce((sum, w) => sum + w.blocks, 0);
}

export interface RestoreCheck {
  vm: E2eVm;
  /** A backup id, or a date (ms). */
  what: { backupId: string } | { atMs: number };
  remote: string;
  /** Pool and SR (by name) restored to. */
  toPool: string;
  srName: string;
  /** The backup the request must resolve to (checked, and whose digests are expected). */
  expectedBackupId: string;
}

/** The uuid of a pool's SR, by name (through XAPI). */
export async function srUuidOf(stack: E2eParts, pool: string, name: string): Promise<string> {
  const xapi = await PoolXapi.connect(stack.pools.get(pool)!);
  try {
    return await xapi.srUuid(name);
  } finally {
    await xapi.close();
  }
}

/** Restores, checks the resolved backup and every restored disk's digest; returns the new VM's uuid. */
export async function restoreChecked(stack: E2eParts, ledger: DigestLedger, r: RestoreCheck): Promise<string> {
  const pool = stack.pools.get(r.toPool)!;
  const srUuid = await srUuidOf(stack, r.toPool, r.srName);
  const what: wire.RestoreRequest['what'] = 'backupId' in r.what ? { $case: 'backupId', value: r.what.backupId } : { $case: 'point', value: { vmUuid: r.vm.uuid, atMs: r.what.atMs, remote: r.remote } };
  const outcome = await restoreAndWait(stack.control, { what, pool: r.toPool, srUuid, name: `${r.vm.name} restored`, backupRemote: 'backupId' in r.what ? r.remote : '' });
  assert.equal(outcome.task.state, 'succeeded', `restore of ${r.vm.name}: ${outcome.task.errorCode} ${outcome.task.errorMessage}`);
  assert.equal(outcome.backup.id, r.expectedBackupId, 'the restore resolved to the expected backup');
  const restored = await digestVm(pool.admin, outcome.newVmUuid);
  const expected = ledger.get(r.remote, r.expectedBackupId);
  assert.deepEqual(restored.map((d) => [d.virtualSize, d.sha256]), expected.map((d) => [d.virtualSize, d.sha256]), `restored disks of ${r.vm.name} from ${r.expectedBackupId} equal the lab pool's digests at backup time`);
  return outcome.newVmUuid;
}

/** Snapshots of the VM on its pool (the backup tool keeps one as the reference). */
export async function snapshotCount(stack: E2eParts, vm: E2eVm): Promise<number> {
  return (await stack.pools.get(vm.pool)!.admin.state()).vms.filter((v) => v.isSnapshot && v.snapshotOf === vm.uuid).length;
}

/**
 * What an administrator does to lose a VM and its storage: the VM shut down and destroyed, its
 * snapshots destroyed, and every VDI on its SR destroyed (the lab pool implements no SR.destroy,
 * so the SR's content is what goes). Returns the SR's uuid.
 */
export async function destroyVmAndItsSr(stack: E2eParts, vm: E2eVm): Promise<string> {
  const xapi = await PoolXapi.connect(stack.pools.get(vm.pool)!);
  try {
    const vmRef = await xapi.call<string>('VM.get_by_uuid', vm.uuid);
    const firstVdi = await xapi.call<string>('VDI.get_by_uuid', vm.vdis[0]!);
    const srRef = await xapi.call<string>('VDI.get_SR', firstVdi);
    if ((await xapi.call<string>('VM.get_power_state', vmRef)) !== 'Halted') await xapi.call('VM.hard_shutdown', vmRef);
    for (const snapshot of await xapi.call<string[]>('VM.get_snapshots', vmRef)) await xapi.call('VM.destroy', snapshot);
    await xapi.call('VM.destroy', vmRef);
    for (const vdi of await xapi.call<string[]>('SR.get_VDIs', srRef)) await xapi.call('VDI.destroy', vdi);
    assert.deepEqual(await xapi.call<string[]>('SR.get_VDIs', srRef), [], 'nothing left on the SR');
    return xapi.call<string>('SR.get_uuid', srRef);
  } finally {
    await xapi.close();
  }
}
