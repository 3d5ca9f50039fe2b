// A Deltachain data plane of real processes for the benchmark suite: the lab pool (`deltachain
// lab pool`, one VM with one disk), a storage agent writing to `folder/remote`, and the pool's
// host agent; a NATS namespace of their own (removed on close). Tasks go straight to the host
// agent's and storage agent's JetStream queues, as the coordinator would publish them; there is
// no coordinator. Every backup names the previous one's snapshot as its base, and uses one policy
// id, so the host agent rotates its reference snapshot (one per disk on the lab).
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TaskStatus, type TaskResult } from '../../../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { Task } from '../../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { publishTask } from '../../../shared/nats/index.js';
import { backupTask, restoreTask } from '../../support/host-tasks.js';
import { startLabProcess, type LabProcess } from '../../support/lab-process.js';
import { startAgentProcess, type AgentProcess } from '../../support/storage-agent-process.js';
import { startTestNats, storageTask, type TestNats } from '../../support/storage-nats.js';
import { readProc, resetPeak } from '../lib/proc.js';
import { allocatedBytes } from './allocated-size.js';
import { ChainBook, newBackupId, type BookedBackup } from './chain-book.js';
import { startHostAgentProcess, type HostAgentProcess } from './host-agent-process.js';
import { labFeatures } from './lab-features.js';
import { LabRpc } from './lab-rpc.js';
import { openWindow } from './process-cpu.js';
import type { DcBackupMeasure, DcRestoreMeasure, DeltachainStack, DeltachainStackOptions, DiskContent, ProcessName, WriteOptions } from './types.js';
import { testTaskKeys } from '../../support/task-keys.js';

const POOL_ID = 'bench';
const REMOTE_ID = 'bench-remote';
const POLICY_JSON = JSON.stringify({ id: 'bench' });
/** As the coordinator's default policy (purgeSnapshotData true) asks: the CBT path keeps no reference data on the SR. */
const PURGE_SNAPSHOT_DATA = true;
const TASK_TIMEOUT_MS = 3 * 3600_000;
const GiB = 1024 ** 3;

interface Parts {
  nats?: TestNats;
  lab?: LabProcess;
  storage?: AgentProcess;
  host?: HostAgentProcess;
}

export async function startDeltachainStack(o: DeltachainStackOptions): Promise<DeltachainStack> {
  const log = o.log ?? (() => undefined);
  const paths = { lab: join(o.folder, 'lab'), remote: join(o.folder, 'remote'), config: join(o.folder, 'config') };
  await mkdir(paths.remote, { recursive: true });
  await mkdir(paths.config, { recursive: true });
  const parts: Parts = {};
  try {
    const features = labFeatures();
    const content: DiskContent = o.content === 'mixed' && !features.mixedContent ? 'random' : o.content;
    if (content !== o.content) log('dataplane: the lab pool has no "mixed" disk content yet; the disk is random');
    const labConfig = join(paths.config, 'lab.json');
    const disk = { name: 'bench disk', size: o.diskBytes, fill: o.fill, ...(features.mixedContent ? { content } : {}) };
    // A network with purpose nbd: the pool serves NBD (TLS), so the CBT path can read it.
    const networks = [{ name: 'Pool-wide network associated with eth0', bridge: 'xenbr0', MTU: 1500, purpose: ['nbd'] }];
    await writeFile(labConfig, JSON.stringify({ state: paths.lab, seed: o.seed, fleet: { networks, vms: [{ name: 'bench', disks: [disk] }] } }));
    const started = Date.now();
    // The lab seeds its disk while NATS and the storage agent come up; the host agent needs the lab.
    const lab = startLabProcess(['--config', labConfig], 60_000 + Math.ceil(o.diskBytes / GiB) * 30_000).then((p) => (parts.lab = p));
    const nats = startTestNats().then((n) => (parts.nats = n));
    const storage = nats.then(async (n) => {
      parts.storage = await startAgentProcess({ folder: paths.config, root: paths.remote, remoteId: REMOTE_ID, namespace: n.namespace });
    });
    const host = Promise.all([lab, nats]).then(async ([l, n]) => {
      log(`dataplane: lab pool ready in ${((Date.now() - started) / 1000).toFixed(1)} s (disk ${(o.diskBytes / GiB).toFixed(2)} GiB, fill ${o.fill} %, ${content})`);
      const { url, user, password } = l.banner;
      parts.host = await startHostAgentProcess({ configFolder: paths.config, lab: { url, user, password }, poolId: POOL_ID, agentId: 'host-bench', nats: n, changedBlocks: o.changedBlocks ?? 'vhd-export' });
    });
    const settled = await Promise.allSettled([lab, nats, storage, host]);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    log(`dataplane: every process ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const vm = parts.lab!.banner.vms.find((v) => v.name === 'bench' && !v.isSnapshot);
    if (vm?.disks[0] === undefined) throw new Error('the lab pool banner lists no "bench" VM with a disk');
    return new Stack(paths, parts as Required<Parts>, { vmUuid: vm.uuid, vdiUuid: vm.disks[0].vdi, content, writePatterns: features.writePatterns, mixed: features.mixedContent });
  } catch (error) {
    await stopParts(parts);
    await removePaths(paths);
    throw error;
  }
}

async function stopParts(parts: Parts): Promise<void> {
  await parts.host?.stop().catch(() => undefined);
  await parts.storage?.kill('SIGTERM').catch(() => undefined);
  await parts.lab?.stop().catch(() => undefined);
  await parts.nats?.close().catch(() => undefined);
}

async function removePaths(paths: Record<string, string>): Promise<void> {
  for (const path of Object.values(paths)) await rm(path, { recursive: true, force: true });
}

class Stack implements DeltachainStack {
  readonly vmUuid: string;
  readonly vdiUuid: string;
  readonly content: DiskContent;
  readonly lab: { url: string; user: string; password: string };
  readonly pids: Record<ProcessName, number>;
  private readonly rpc: LabRpc;
  private readonly book = new ChainBook();
  private readonly writePatterns: readonly string[];
  private readonly mixed: boolean;
  private srUuid: string | undefined;
  /** A guest write since the newest backup: the live disk no longer holds that backup's content. */
  private writtenSinceBackup = false;

  constructor(
    private readonly paths: Record<string, string>,
    private readonly parts: Required<Parts>,
    found: { vmUuid: string; vdiUuid: string; content: DiskContent; writePatterns: readonly string[]; mixed: boolean },
  ) {
    this.vmUuid = found.vmUuid;
    this.vdiUuid = found.vdiUuid;
    this.content = found.content;
    this.writePatterns = found.writePatterns;
    this.mixed = found.mixed;
    const { url, user, password } = parts.lab.banner;
    this.lab = { url, user, password };
    this.rpc = new LabRpc(url, user, password);
    this.pids = { hostAgent: parts.host.pid, storageAgent: parts.storage.child.pid!, labPool: parts.lab.child.pid! };
  }

  get storage(): { remoteRoot: string; address: string } {
    return { remoteRoot: this.paths.remote!, address: this.parts.storage.address };
  }

  async write(o: WriteOptions): Promise<{ bytes: number; blocks: number }> {
    if (!this.writePatterns.includes(o.pattern)) throw new Error(`the lab pool has no write pattern "${o.pattern}" (it has ${this.writePatterns.join(', ')})`);
    const content = o.content ?? this.content;
    this.writtenSinceBackup = true;
    return this.rpc.write({ vdi: this.vdiUuid, pattern: o.pattern, percent: o.percent, seed: o.seed, ...(this.mixed ? { content } : {}) });
  }

  async fullBackup(): Promise<DcBackupMeasure> {
    const { measure, booked } = await this.backup({});
    this.book.startChain(booked);
    return measure;
  }

  async incrementalBackup(): Promise<DcBackupMeasure> {
    const newest = this.book.newest();
    if (newest === undefined) throw new Error('incrementalBackup: no chain yet, take a fullBackup first');
    const { measure, booked } = await this.backup(newest.snapshotVdiByDisk);
    if (measure.mode !== 'delta') throw new Error(`incrementalBackup: the host agent took a ${measure.mode}, not a delta`);
    this.book.extend(booked);
    return measure;
  }

  private async backup(bases: Record<string, string>): Promise<{ measure: DcBackupMeasure; booked: BookedBackup }> {
    const backupId = newBackupId(new Date(), randomBytes(4).toString('hex'));
    const task = backupTask(POOL_ID, { vmUuid: this.vmUuid, backupId, remoteId: REMOTE_ID, storageAddress: this.parts.storage.address, baseSnapshotVdiByDisk: bases, policyJson: POLICY_JSON, purgeSnapshotData: PURGE_SNAPSHOT_DATA });
    const remoteBefore = await allocatedBytes(this.paths.remote!);
    const { result, wallSec, cpuByProcess, labReadBytes } = await this.runHostTask(task, `backup ${backupId}`);
    const output = result.output?.$case === 'backup' ? result.output.value : undefined;
    const disks = output?.report?.disks ?? [];
    if (output === undefined || disks.length === 0) throw new Error(`backup ${backupId}: the result holds no backup report`);
    const measure: DcBackupMeasure = {
      wallSec,
      cpuSec: cpuByProcess.hostAgent + cpuByProcess.storageAgent,
      cpuByProcess,
      mode: disks.map((d) => d.mode).join('+'),
      blocks: disks.reduce((sum, d) => sum + d.blocks, 0),
      bytesReadFromSource: labReadBytes,
      bytesSent: output.bytesSent,
      bytesAdded: (await allocatedBytes(this.paths.remote!)) - remoteBefore,
      backupId,
      readMethod: [...new Set(disks.map((d) => d.readMethod))].join('+'),
      fallbackReason: [...new Set(disks.map((d) => d.fallbackReason).filter((r) => r !== ''))].join('+'),
    };
    const snapshotVdiByDisk = Object.fromEntries(disks.map((d) => [d.diskKey, d.snapshotVdiUuid]));
    this.writtenSinceBackup = false;
    return { measure, booked: { backupId, snapshotVdiByDisk, digests: new Map() } };
  }

  async restoreNewest(): Promise<DcRestoreMeasure> {
    const newest = this.book.newest();
    if (newest === undefined) throw new Error('restoreNewest: nothing backed up yet');
    // The newest backup's snapshot is still the host agent's reference on the lab (it goes only
    // when the next backup succeeds), so its digest is the digest of the disk at that backup.
    const expected = await this.snapshotDigests(newest);
    this.srUuid ??= await this.rpc.firstSrUuid();
    const task = restoreTask(POOL_ID, { vmUuid: this.vmUuid, backupId: newest.backupId, remoteId: REMOTE_ID, storageAddress: this.parts.storage.address, srUuid: this.srUuid, nameLabel: `bench restore ${newest.backupId}`, expectedChainDigests: {} });
    const { result, wallSec, cpuByProcess } = await this.runHostTask(task, `restore ${newest.backupId}`);
    const output = result.output?.$case === 'restore' ? result.output.value : undefined;
    const restored = output?.report?.disks ?? [];
    if (output === undefined || restored.length === 0) throw new Error(`restore ${newest.backupId}: the result holds no restored disk`);
    let digestMatches = restored.length === expected.size;
    try {
      for (const disk of restored) digestMatches &&= (await this.rpc.digest(disk.vdiUuid)) === expected.get(disk.diskKey);
    } finally {
      await this.rpc.destroyVm(output.newVmUuid, restored.map((d) => d.vdiUuid));
    }
    return { wallSec, cpuSec: cpuByProcess.hostAgent + cpuByProcess.storageAgent, cpuByProcess, bytes: output.bytesReceived, digestMatches, chainDepth: this.book.depth() };
  }

  /**
   * Disk key → digest of that backup's snapshot VDI (cached). A purged reference (cbt_metadata)
   * has no data: then the live disk, which no guest wrote since that backup, holds its content.
   */
  private async snapshotDigests(backup: BookedBackup): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [diskKey, vdi] of Object.entries(backup.snapshotVdiByDisk)) {
      if (!backup.digests.has(vdi)) {
        const ref = await this.rpc.call<string>('VDI.get_by_uuid', vdi);
        const purged = (await this.rpc.call<string>('VDI.get_type', ref)) === 'cbt_metadata';
        if (purged && (this.writtenSinceBackup || backup !== this.book.newest())) throw new Error(`backup ${backup.backupId}: its reference ${vdi} was purged and the disk was written since; no digest to check a restore against`);
        backup.digests.set(vdi, await this.rpc.digest(purged ? diskKey : vdi));
      }
      out.set(diskKey, backup.digests.get(vdi)!);
    }
    return out;
  }

  async useChangedBlocks(method: 'cbt' | 'vhd-export'): Promise<void> {
    await this.parts.host.stop();
    const { url, user, password } = this.parts.lab.banner;
    this.parts.host = await startHostAgentProcess({ configFolder: this.paths.config!, lab: { url, user, password }, poolId: POOL_ID, agentId: 'host-bench', nats: this.parts.nats, changedBlocks: method });
    this.pids.hostAgent = this.parts.host.pid;
  }

  async snapshotDataBytes(): Promise<number> {
    const vdis = await this.rpc.call<Record<string, { is_a_snapshot: boolean; type: string; physical_utilisation: number }>>('VDI.get_all_records');
    return Object.values(vdis)
      .filter((v) => v.is_a_snapshot && v.type !== 'cbt_metadata')
      .reduce((sum, v) => sum + Number(v.physical_utilisation), 0);
  }

  private async runHostTask(task: Task, what: string): Promise<{ result: TaskResult; wallSec: number; cpuByProcess: Record<ProcessName, number>; labReadBytes: number }> {
    const { nats } = this.parts;
    const window = await openWindow(this.pids);
    const started = process.hrtime.bigint();
    await nats.queue('host', POOL_ID);
    await publishTask(nats.nc, nats.names.hostTasks(POOL_ID), task, testTaskKeys().signer);
    const event = await nats.waitForEvent((e) => e.taskId === task.taskId && e.body?.$case === 'result', TASK_TIMEOUT_MS, `result of ${what}`);
    const wallSec = Number(process.hrtime.bigint() - started) / 1e9;
    const { cpuByProcess, labReadBytes } = await window.close();
    const result = event.body!.value as TaskResult;
    if (result.status !== TaskStatus.TASK_STATUS_SUCCEEDED) {
      throw new Error(`${what} failed: ${result.error?.code} ${result.error?.message}\nhost agent: ${this.parts.host.output().slice(-2000)}`);
    }
    return { result, wallSec, cpuByProcess, labReadBytes };
  }

  chainDepth(): number {
    return this.book.depth();
  }

  async dropOlderChains(): Promise<void> {
    for (const chain of this.book.takeOlder()) {
      // Newest first, so each delete finds no later backup needing its files.
      for (const backup of [...chain].reverse()) await this.deleteBackup(backup.backupId);
    }
  }

  private async deleteBackup(backupId: string): Promise<void> {
    const { nats } = this.parts;
    const task = storageTask(REMOTE_ID, { $case: 'delete', value: { vmUuid: this.vmUuid, backupId } });
    await nats.publish(task);
    const event = await nats.waitForEvent((e) => e.taskId === task.taskId && e.body?.$case === 'result', 10 * 60_000, `result of deleting ${backupId}`);
    const result = event.body!.value as TaskResult;
    if (result.status !== TaskStatus.TASK_STATUS_SUCCEEDED) throw new Error(`deleting backup ${backupId} failed: ${result.error?.message}`);
  }

  async peakRss(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) out[name] = (await readProc(pid)).peakMiB;
    return out;
  }

  async resetPeaks(): Promise<void> {
    for (const pid of Object.values(this.pids)) await resetPeak(pid);
  }

  async close(): Promise<void> {
    await stopParts(this.parts);
    await removePaths(this.paths);
  }
}

