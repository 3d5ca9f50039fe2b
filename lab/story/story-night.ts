// One night of the story: take the lab pool's digests of every VM's disks (the content the
// night's snapshots will freeze), run the policy, and tell and check what happened — a full the
// first night, afterwards deltas of about the changed blocks, merges on the storage agent once
// the chain holds more dates than the retention, exactly that many dates left on the remote (in
// the catalogue and in the storage agent's own listing), and one reference snapshot per VM.
import { StorageClient } from '../../shared/grpc/storage-client.js';
import { digestVm, type DiskDigestEntry } from './disk-digests.js';
import { formatDuration } from './format-units.js';
import type { LabStack } from './lab-stack.js';
import { runPolicyAndWait } from './run-and-wait.js';
import { backupKind, summarizeRun, type RunSummary } from './run-summary.js';
import { checkDelta, checkFull, checkMerged, checkReadOverCbt, checkOneSnapshot, checkRetained, checkRunSucceeded, type Check } from './story-checks.js';
import type { StoryReporter } from './story-reporter.js';
import { humanSize } from '../../shared/human-units.js';

export interface StoryVm {
  uuid: string;
  name: string;
  /** Disk VDI uuids and virtual sizes, in device order. */
  vdis: string[];
  sizes: number[];
}

export interface NightRecord {
  night: number;
  summary: RunSummary;
  /** VM uuid → its disks' digests when the night's backup was taken. */
  digests: Map<string, DiskDigestEntry[]>;
}

export interface NightContext {
  stack: LabStack;
  reporter: StoryReporter;
  pool: string;
  remote: string;
  policy: string;
  retention: number;
  vms: StoryVm[];
  check(check: Check): void;
}

export async function playNight(ctx: NightContext, night: number, changedBlocks: Map<string, number>): Promise<NightRecord> {
  const { stack, reporter } = ctx;
  const admin = stack.pools.get(ctx.pool)!.admin;
  const digests = new Map<string, DiskDigestEntry[]>();
  for (const vm of ctx.vms) digests.set(vm.uuid, await digestVm(admin, vm.uuid));
  // A backup's date has the second of its run (the backup id), and the story's nights can take
  // less than a second each: each night starts in a second of its own, so `restore --at` a
  // night's date finds that night's backup and not the next one's.
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)));
  reporter.command(`deltachain policy run ${ctx.policy}`);
  const run = await runPolicyAndWait(stack.control, ctx.policy);
  const catalogue = (await stack.control.listBackups({ vmUuid: '', remote: ctx.remote, all: false })).backups;
  const summary = summarizeRun(run, catalogue);
  ctx.check(checkRunSucceeded(`night ${night}`, summary.state, summary.failed.map((f) => `${f.kind} on ${f.address}: ${f.error}`)));
  for (const vm of ctx.vms) {
    const backup = summary.backups.find((b) => b.vmUuid === vm.uuid);
    if (backup === undefined) {
      ctx.check({ ok: false, text: `${vm.name}: no backup in this run` });
      continue;
    }
    reporter.line(`${vm.name.padEnd(8)} ${backupKind(backup).padEnd(6)} ${humanSize(backup.bytesSent).padStart(9)} sent in ${formatDuration(backup.durationMs)}  → backup ${backup.backupId}  ${howRead(backup)}`);
    ctx.check(night === 1 ? checkFull(vm.name, backup) : checkDelta(vm.name, backup, changedBlocks.get(vm.uuid) ?? 0));
    ctx.check(checkReadOverCbt(vm.name, backup));
  }
  await tellRetention(ctx, summary, night);
  await checkSnapshots(ctx);
  return { night, summary, digests };
}

/** "read over CBT + NBD" when every disk was; else each disk's way and why. */
function howRead(backup: RunSummary['backups'][number]): string {
  if (backup.reads.length > 0 && backup.reads.every((read) => read.readMethod === 'cbt-nbd')) return 'read over CBT + NBD';
  return backup.reads.map((read) => `${read.diskKey.slice(0, 8)}: ${read.readMethod}${read.fallbackReason ? ` (${read.fallbackReason})` : ''}`).join(', ');
}

async function tellRetention(ctx: NightContext, summary: RunSummary, night: number): Promise<void> {
  const merges = summary.retention.filter((r) => r.kind === 'merge');
  for (const merge of merges) {
    const vm = ctx.vms.find((v) => v.uuid === merge.vmUuid)?.name ?? merge.vmUuid;
    ctx.reporter.line(`merged on ${merge.remote}'s storage agent: ${vm}'s full ${merge.retired.join(', ')} and its oldest delta ${merge.backupId} are now one full, ${merge.backupId}`);
  }
  if (night <= ctx.retention) return;
  ctx.check(checkMerged(ctx.remote, merges.length, ctx.vms.length));
  const remote = ctx.stack.remotes.get(ctx.remote)!;
  const storage = new StorageClient(remote.address, ctx.stack.security.coordinatorCredentials());
  try {
    for (const vm of ctx.vms) {
      const catalogue = (await ctx.stack.control.listBackups({ vmUuid: vm.uuid, remote: ctx.remote, all: false })).backups.length;
      const onRemote = (await storage.listBackups(vm.uuid)).length;
      ctx.check(checkRetained(vm.name, ctx.remote, catalogue, onRemote, ctx.retention));
    }
  } finally {
    storage.close();
  }
}

async function checkSnapshots(ctx: NightContext): Promise<void> {
  const state = await ctx.stack.pools.get(ctx.pool)!.admin.state();
  for (const vm of ctx.vms) {
    ctx.check(checkOneSnapshot(vm.name, state.vms.filter((v) => v.isSnapshot && v.snapshotOf === vm.uuid).length));
  }
}
