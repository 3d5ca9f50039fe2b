// The CBT backup path against the lab pool (CBT at 64 KiB, NBD with TLS) and a real storage
// agent: a full reads only allocated extents, a delta exactly the 64 KiB extents CBT marks, sent
// packed; the reference's data is purged after the commit; and each way CBT or NBD can fail —
// CBT switched off, its log lost, NBD gone, a connection cut mid-read — ends in a correct backup
// by the next way, with the reason in the result. After every backup the remote's newest date,
// read back through GetDisk, equals the lab's digest of the disk; at the end every date, restored
// onto the pool, is read by nbdcopy, its synthetic VHD by qemu-img and its chain files by libvhdi.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { restoreVm } from '../agent/host/restore/restore-vm.js';
import { backupVm, type BackupContext } from '../agent/host/backup/backup-vm.js';
import type { BackupOutcome, BackupRequest, DiskOutcome } from '../agent/host/backup/backup-types.js';
import type { XapiVdi } from '../agent/host/xapi/xapi-records.js';
import { planWrites } from '../lab/pool/workload/write-plan.js';
import { GetDiskFormat } from '../shared/proto/gen/deltachain/storage/v1/storage.js';
import { SMALL_FLEET, startHostLab, type HostLab } from './support/host-lab.js';
import { startHostRemote, type HostRemote } from './support/host-remote.js';
import { libvhdiChainToRaw, qemuVhdToRaw, sha256File } from './support/vhd-oracles.js';

const run = promisify(execFile);

const BLOCK = 2 * 1024 * 1024;
const CHUNK = 64 * 1024;

describe('host agent CBT path: NBD reads of the extents CBT marks, purge, fallbacks', () => {
  let env: HostLab;
  let remote: HostRemote;
  const policyId = randomUUID();
  let vmUuid: string;
  let disks: string[];
  let runs = 0;
  let last: BackupOutcome | undefined;
  /** Every backup's disks, in order, with the lab's digest of the disk at that date. */
  const dates: Array<{ backupId: string; diskKey: string; mode: string; path: string; sha256: string }> = [];

  before(async () => {
    env = await startHostLab({ fleet: { networks: [{ ...SMALL_FLEET.networks[0]!, purpose: ['nbd'] }] } });
    remote = await startHostRemote();
    vmUuid = await env.vmUuid('web');
    disks = await env.diskUuids(vmUuid);
  });
  after(async () => {
    await remote?.close();
    await env?.close();
  });

  function context(overrides: Partial<BackupContext> = {}): BackupContext {
    return { xapi: env.xapi, disksPerVm: 2, logger: env.logger, progressIntervalMs: 0, changedBlocks: 'cbt', nbd: { connections: 2, maxInFlightBytes: 4 * 1024 * 1024 }, ...overrides };
  }

  /** The next backup: a delta against the last one's snapshots, unless `full`. */
  async function backup(options: { full?: boolean; purge?: boolean; context?: Partial<BackupContext> } = {}): Promise<BackupOutcome> {
    runs++;
    const bases = options.full || last === undefined ? new Map<string, string>() : new Map(last.disks.map((d) => [d.diskKey, d.snapshotVdiUuid]));
    const request: BackupRequest = {
      taskId: randomUUID(),
      policyId,
      policyJson: JSON.stringify({ id: policyId, name: 'cbt' }),
      vmUuid,
      targets: [{ remoteId: remote.remoteId, backupId: `20240101T0000${String(runs).padStart(2, '0')}Z-web`, storage: remote.storage }],
      bases,
      purgeSnapshotData: options.purge ?? true,
    };
    last = await backupVm(context(options.context), request);
    await assertRemoteEqualsLab(last);
    return last;
  }

  /** The remote's newest date of each disk, read through GetDisk, equals the lab's live disk (no write since the snapshot). */
  async function assertRemoteEqualsLab(outcome: BackupOutcome): Promise<void> {
    for (const disk of outcome.disks) {
      const image = Buffer.alloc(disk.virtualSize);
      for await (const part of remote.harness.client.getDiskParts(vmUuid, outcome.backups[0]!.backupId, disk.diskKey, GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
        if (part.$case === 'block') image.set(part.value.data.subarray(0, Math.max(0, Math.min(BLOCK, disk.virtualSize - part.value.index * BLOCK))), part.value.index * BLOCK);
      }
      const lab = await env.admin.digest(disk.diskKey);
      assert.equal(createHash('sha256').update(image).digest('hex'), lab.sha256, `backup ${outcome.backups[0]!.backupId}, disk ${disk.diskKey}: the remote's date differs from the lab's disk`);
      dates.push({ backupId: outcome.backups[0]!.backupId, diskKey: disk.diskKey, mode: disk.mode, path: disk.remotes[0]!.path, sha256: lab.sha256 });
    }
  }

  async function snapshotVdi(uuid: string): Promise<XapiVdi> {
    return (await env.xapi.getRecordByUuid<XapiVdi>('VDI', uuid)).record;
  }

  const byKey = (outcome: BackupOutcome, key: string): DiskOutcome => outcome.disks.find((d) => d.diskKey === key)!;

  it('a full reads the allocated extents over NBD; CBT is switched on; the reference keeps only its CBT metadata', async () => {
    const outcome = await backup({ full: true });
    for (const disk of outcome.disks) {
      assert.equal(disk.mode, 'full');
      assert.equal(disk.readMethod, 'cbt-nbd');
      assert.equal(disk.fallbackReason, undefined);
      assert.ok(disk.blocks > 0 && disk.blocks < disk.virtualSize / BLOCK, `${disk.blocks} blocks of data in a partly filled disk`);
    }
    for (const key of disks) assert.equal((await env.xapi.getRecordByUuid<XapiVdi>('VDI', key)).record['cbt_enabled'], true);
    for (const disk of outcome.disks) assert.equal((await snapshotVdi(disk.snapshotVdiUuid)).type, 'cbt_metadata');
  });

  it('a delta after scattered 4 KiB writes sends only the 64 KiB extents they touched, packed', async () => {
    const written = await env.admin.write({ vdi: disks[0]!, pattern: 'scattered', percent: 1, seed: 11 });
    const outcome = await backup({ purge: false });
    const root = byKey(outcome, disks[0]!);
    assert.equal(root.mode, 'delta');
    assert.equal(root.readMethod, 'cbt-nbd');
    // The lab's writes, planned again from the same inputs: which 64 KiB extents and 2 MiB blocks they touch.
    const writes = planWrites({ pattern: 'scattered', virtualSize: root.virtualSize, percent: 1, seed: 11 });
    assert.equal(writes.length, written.extents);
    const extents = new Set(writes.map((w) => Math.floor(w.offset / CHUNK))).size;
    const blocks = new Set(writes.map((w) => Math.floor(w.offset / BLOCK))).size;
    assert.equal(root.blocks, blocks);
    assert.equal(root.bytesSent, blocks * 512 + extents * CHUNK, `${extents} extents of 64 KiB touched by ${writes.length} writes of 4 KiB`);
    const other = byKey(outcome, disks[1]!);
    assert.equal(other.mode, 'delta');
    assert.equal(other.blocks, 0, 'an unwritten disk sends nothing');
  });

  it('a reference taken with CBT off: the delta comes from the VHD export, says why, and CBT is on again for the next', async () => {
    const rootRef = (await env.xapi.getRecordByUuid<XapiVdi>('VDI', disks[0]!)).ref;
    await env.xapi.call('VDI.disable_cbt', rootRef);
    await env.admin.write({ vdi: disks[0]!, pattern: 'clustered-64k', percent: 2, seed: 12 });
    const before = await backup({ context: { changedBlocks: 'vhd-export' } });
    assert.equal(byKey(before, disks[0]!).readMethod, 'vhd-export');
    assert.equal(byKey(before, disks[0]!).fallbackReason, undefined, 'configured for the VHD export: no fallback');
    await env.admin.write({ vdi: disks[0]!, pattern: 'clustered-64k', percent: 2, seed: 13 });
    const outcome = await backup();
    const root = byKey(outcome, disks[0]!);
    assert.equal(root.fallbackReason, 'cbt-off');
    assert.match(root.fallbackDetail ?? '', /CBT was off on the reference/);
    assert.equal(root.readMethod, 'vhd-export');
    assert.equal(root.mode, 'delta');
    assert.notEqual((await snapshotVdi(root.snapshotVdiUuid)).type, 'cbt_metadata', 'read without CBT: its data stays for the next delta');
    await env.admin.write({ vdi: disks[0]!, pattern: 'clustered-64k', percent: 2, seed: 14 });
    assert.equal(byKey(await backup(), disks[0]!).readMethod, 'cbt-nbd', 'the backup switched CBT on before its snapshot');
  });

  it('CBT switched off and on by an admin between runs (the log broken), reference data kept: a VHD-export delta', async () => {
    await env.admin.write({ vdi: disks[0]!, pattern: 'scattered', percent: 1, seed: 15 });
    await backup({ purge: false });
    const rootRef = (await env.xapi.getRecordByUuid<XapiVdi>('VDI', disks[0]!)).ref;
    await env.xapi.call('VDI.disable_cbt', rootRef);
    await env.xapi.call('VDI.enable_cbt', rootRef);
    await env.admin.write({ vdi: disks[0]!, pattern: 'scattered', percent: 1, seed: 16 });
    const outcome = await backup({ purge: false });
    const root = byKey(outcome, disks[0]!);
    assert.equal(root.fallbackReason, 'cbt-lost');
    assert.match(root.fallbackDetail ?? '', /VDI_NO_CBT_METADATA/);
    assert.equal(root.readMethod, 'vhd-export');
    assert.equal(root.mode, 'delta');
    assert.equal(byKey(outcome, disks[1]!).readMethod, 'cbt-nbd', 'the other disk kept CBT');
  });

  it('the CBT log lost (VDI_NO_CBT_METADATA) with the reference purged: a full, said as such', async () => {
    await env.admin.write({ vdi: disks[0]!, pattern: 'clustered', percent: 2, seed: 17 });
    const previous = await backup({ purge: true });
    assert.equal((await snapshotVdi(byKey(previous, disks[0]!).snapshotVdiUuid)).type, 'cbt_metadata');
    await env.admin.setFaults({ cbtLost: { vdi: byKey(previous, disks[0]!).snapshotVdiUuid, times: 1 } });
    await env.admin.write({ vdi: disks[0]!, pattern: 'scattered', percent: 1, seed: 18 });
    const outcome = await backup({ purge: false });
    const root = byKey(outcome, disks[0]!);
    assert.equal(root.fallbackReason, 'cbt-lost');
    assert.equal(root.readMethod, 'vhd-export');
    assert.equal(root.mode, 'full');
    assert.equal(root.fullReason, 'reference-purged');
  });

  it('NBD gone from the pool (no network with purpose nbd): VHD-export deltas, and nothing purged', async () => {
    const [network] = await env.xapi.call<string[]>('network.get_all');
    await env.xapi.call('network.remove_purpose', network, 'nbd');
    try {
      await env.admin.write({ vdi: disks[1]!, pattern: 'clustered-64k', percent: 2, seed: 19 });
      const outcome = await backup({ purge: true });
      for (const disk of outcome.disks) {
        assert.equal(disk.fallbackReason, 'nbd-unavailable');
        assert.equal(disk.readMethod, 'vhd-export');
        assert.equal(disk.mode, 'delta');
        assert.notEqual((await snapshotVdi(disk.snapshotVdiUuid)).type, 'cbt_metadata', 'a disk read without NBD keeps its data: the next delta may need it');
      }
    } finally {
      await env.xapi.call('network.add_purpose', network, 'nbd');
    }
  });

  it('an NBD connection cut mid-read is opened again and the delta completes over CBT', async () => {
    await env.admin.write({ vdi: disks[0]!, pattern: 'clustered', percent: 5, seed: 20 });
    await env.admin.setFaults({ nbdCut: { afterBytes: 300 * 1024, times: 1 } });
    const outcome = await backup();
    assert.equal((await env.admin.faults()).nbdCut, undefined, 'the cut fired');
    const root = byKey(outcome, disks[0]!);
    assert.equal(root.readMethod, 'cbt-nbd');
    assert.equal(root.mode, 'delta');
  });

  it('NBD refusing the snapshot (its export name refused at every try): a VHD-export delta, said as nbd-refused', async () => {
    await env.admin.write({ vdi: disks[0]!, pattern: 'clustered-64k', percent: 2, seed: 21 });
    // The new snapshot's uuid is not known before the backup: refuse every VDI's export, enough times for its connections.
    await env.admin.setFaults({ nbdExportExpired: { times: 8 } });
    try {
      const outcome = await backup({ purge: true });
      for (const disk of outcome.disks) {
        assert.equal(disk.fallbackReason, 'nbd-refused');
        assert.match(disk.fallbackDetail ?? '', /not valid \(logged out or expired\)/);
        assert.equal(disk.readMethod, 'vhd-export');
        assert.equal(disk.mode, 'delta');
        assert.notEqual((await snapshotVdi(disk.snapshotVdiUuid)).type, 'cbt_metadata', 'not purged: NBD did not serve it');
      }
    } finally {
      await env.admin.setFaults({ nbdExportExpired: null });
    }
  });

  it('an export name expired once: the reader asks XAPI for a fresh one and the backup stays on CBT', async () => {
    await env.admin.write({ vdi: disks[0]!, pattern: 'clustered-64k', percent: 2, seed: 22 });
    await env.admin.setFaults({ nbdExportExpired: { times: 1 } });
    const outcome = await backup();
    assert.equal((await env.admin.faults()).nbdExportExpired, undefined, 'the refusal fired');
    for (const disk of outcome.disks) assert.equal(disk.readMethod, 'cbt-nbd');
  });

  it('every date, restored onto the pool and read by nbdcopy, by qemu-img (the synthetic VHD) and libvhdi (the chain files), equals the lab', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'cbt-dates-'));
    try {
      const srs = await env.xapi.call<Record<string, { uuid: string; name_label: string }>>('SR.get_all_records');
      const srUuid = Object.values(srs).find((sr) => sr.name_label === 'Restore SR')!.uuid;
      const certs = join(scratch, 'certs');
      await mkdir(certs);
      const backupIds = [...new Set(dates.map((d) => d.backupId))];
      assert.ok(backupIds.length >= 9, `${backupIds.length} dates`);
      for (const backupId of backupIds) {
        const restored = await restoreVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, { taskId: randomUUID(), vmUuid, backupId, source: remote.storage, srUuid });
        for (const disk of restored.disks) {
          const expected = dates.find((d) => d.backupId === backupId && d.diskKey === disk.diskKey)!;
          const what = `${backupId} disk ${disk.diskKey}`;
          // nbdcopy over the lab's NBD (TLS, the pool's certificate pinned) from the restored disk.
          const vdiRef = (await env.xapi.getRecordByUuid<XapiVdi>('VDI', disk.vdiUuid)).ref;
          const [info] = await env.xapi.call<Array<{ address: string; port: number; exportname: string; cert: string }>>('VDI.get_nbd_info', vdiRef);
          await writeFile(join(certs, 'ca-cert.pem'), info!.cert);
          const viaNbd = join(scratch, 'nbdcopy.raw');
          await run('nbdcopy', [`nbds://${info!.address}:${info!.port}/${encodeURIComponent(info!.exportname)}?tls-certificates=${certs}`, viaNbd]);
          assert.equal(await sha256File(viaNbd), expected.sha256, `${what}: nbdcopy of the restored disk`);
          // qemu-img reading the synthetic VHD GetDisk serves for this date.
          const vhd = join(scratch, 'stream.vhd');
          const chunks: Buffer[] = [];
          for await (const part of remote.harness.client.getDiskParts(vmUuid, backupId, disk.diskKey, GetDiskFormat.GET_DISK_FORMAT_VHD)) {
            if (part.$case === 'vhdChunk') chunks.push(Buffer.from(part.value));
          }
          await writeFile(vhd, Buffer.concat(chunks));
          const viaQemu = join(scratch, 'qemu.raw');
          await qemuVhdToRaw(vhd, viaQemu);
          assert.equal(await sha256File(viaQemu), expected.sha256, `${what}: qemu-img of the synthetic VHD`);
          // libvhdi reading the chain's files on the remote, newest first, back to the full.
          const mine = dates.filter((d) => d.diskKey === disk.diskKey);
          const chain: string[] = [];
          for (let i = mine.findIndex((d) => d.backupId === backupId); i >= 0; i--) {
            chain.push(join(remote.harness.root, mine[i]!.path));
            if (mine[i]!.mode === 'full') break;
          }
          const viaLibvhdi = join(scratch, 'libvhdi.raw');
          await libvhdiChainToRaw(chain, viaLibvhdi);
          assert.equal(await sha256File(viaLibvhdi), expected.sha256, `${what}: libvhdi of ${chain.length} chain files`);
        }
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('a disk moved to another SR: refused while CBT is on (VDI_CBT_ENABLED); moved with CBT off it is a new VDI, backed up as a full over NBD with CBT on again', async () => {
    const srs = await env.xapi.call<Record<string, { name_label: string }>>('SR.get_all_records');
    const target = Object.entries(srs).find(([, sr]) => sr.name_label === 'Restore SR')![0];
    const dataRef = (await env.xapi.getRecordByUuid<XapiVdi>('VDI', disks[1]!)).ref;
    await assert.rejects(env.xapi.call('VDI.pool_migrate', dataRef, target, {}), /VDI_CBT_ENABLED/);
    await env.xapi.call('VDI.disable_cbt', dataRef);
    const movedRef = await env.xapi.call<string>('VDI.pool_migrate', dataRef, target, {});
    const moved = await env.xapi.getRecord<XapiVdi>('VDI', movedRef);
    assert.notEqual(moved.uuid, disks[1], 'a new VDI: a new disk to back up');
    await env.admin.write({ vdi: disks[0]!, pattern: 'clustered-64k', percent: 2, seed: 30 });
    const outcome = await backup();
    const movedDisk = byKey(outcome, moved.uuid);
    assert.equal(movedDisk.mode, 'full');
    assert.equal(movedDisk.readMethod, 'cbt-nbd');
    assert.equal((await env.xapi.getRecord<XapiVdi>('VDI', movedRef))['cbt_enabled'], true, 'CBT switched on for the moved disk');
    assert.equal(byKey(outcome, disks[0]!).mode, 'delta', 'the disk that stayed keeps its chain');
    assert.equal(byKey(outcome, disks[0]!).readMethod, 'cbt-nbd');
  });
});
