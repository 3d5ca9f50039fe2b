// Backups of lab VMs to a real storage agent on loopback: a full, then deltas after guest-like
// writes (`lab write`), the reference rotated only after the commit, bytes on the wire about the
// changed blocks, skipped disks, and the fallbacks to a full (reference deleted by an admin,
// remote lacking the base) with their reasons.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { backupVm } from '../agent/host/backup/backup-vm.js';
import type { BackupOutcome, BackupRequest } from '../agent/host/backup/backup-types.js';
import { readSnapshotTags } from '../agent/host/plan/snapshot-tags.js';
import type { XapiVm } from '../agent/host/xapi/xapi-records.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { startHostRemote, type HostRemote } from './support/host-remote.js';

const BLOCK = 2 * 1024 * 1024;

describe('host agent backup against the lab pool and a real storage agent', () => {
  let env: HostLab;
  let remote: HostRemote;
  const policyId = randomUUID();
  let webUuid: string;
  let runs = 0;

  before(async () => {
    env = await startHostLab();
    remote = await startHostRemote();
    webUuid = await env.vmUuid('web');
  });
  after(async () => {
    await remote?.close();
    await env?.close();
  });

  function request(bases: Record<string, string> = {}, overrides: Partial<BackupRequest> = {}): BackupRequest {
    runs++;
    return {
      taskId: randomUUID(),
      policyId,
      policyJson: JSON.stringify({ id: policyId, name: 'nightly' }),
      vmUuid: webUuid,
      targets: [{ remoteId: remote.remoteId, backupId: `20240101T00000${runs}Z-web`, storage: remote.storage }],
      bases: new Map(Object.entries(bases)),
      ...overrides,
    };
  }

  function basesOf(outcome: BackupOutcome): Record<string, string> {
    return Object.fromEntries(outcome.disks.map((d) => [d.diskKey, d.snapshotVdiUuid]));
  }

  async function snapshotsOfWeb(): Promise<XapiVm[]> {
    const { record } = await env.xapi.getRecordByUuid<XapiVm>('VM', webUuid);
    return Promise.all(record.snapshots.map((ref) => env.xapi.getRecord<XapiVm>('VM', ref)));
  }

  let first: BackupOutcome;
  let second: BackupOutcome;

  it('takes a full backup of every disk and keeps the snapshot as the exported reference', async () => {
    const progress: number[] = [];
    first = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger, onProgress: (p) => progress.push(p.bytesDone), progressIntervalMs: 0 }, request());
    assert.equal(first.disks.length, 2);
    for (const disk of first.disks) {
      assert.equal(disk.mode, 'full');
      assert.equal(disk.fullReason, 'requested');
      assert.ok(disk.blocks > 0);
      assert.equal(disk.bytesSent, disk.blocks * (BLOCK + 512));
    }
    const snapshots = await snapshotsOfWeb();
    assert.equal(snapshots.length, 1);
    const tags = readSnapshotTags(snapshots[0]!.other_config);
    assert.equal(tags?.exported, true);
    assert.equal(snapshots[0]!.uuid, first.snapshotUuid);
    const listed = await remote.storage.listBackups(webUuid);
    assert.deepEqual(listed.map((b) => b.backupId), [first.backups[0]!.backupId]);
    assert.ok(progress.length > 2 && progress.at(-1)! >= first.bytesSent);
  });

  it('sends only the changed blocks in a delta and rotates the reference after the commit', async () => {
    const [root] = await env.diskUuids(webUuid);
    const written = await env.admin.write({ vdi: root!, pattern: 'clustered', percent: 10, seed: 11 });
    second = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, request(basesOf(first)));
    const rootDisk = second.disks.find((d) => d.diskKey === root)!;
    const dataDisk = second.disks.find((d) => d.diskKey !== root)!;
    assert.equal(rootDisk.mode, 'delta');
    assert.equal(rootDisk.baseVdiUuid, basesOf(first)[root!]);
    assert.equal(rootDisk.blocks, written.blocks, 'the delta carries exactly the blocks the guest changed');
    assert.equal(dataDisk.mode, 'delta');
    assert.equal(dataDisk.blocks, 0, 'an unchanged disk sends no block');
    const snapshots = await snapshotsOfWeb();
    assert.deepEqual(snapshots.map((s) => s.uuid), [second.snapshotUuid], 'the previous reference is gone');
    assert.deepEqual(second.removedSnapshots.map((s) => s.uuid), [first.snapshotUuid]);
  });

  it('leaves the reference untouched when an export is cut, and the next delta still carries the blocks written before', async () => {
    const [root] = await env.diskUuids(webUuid);
    const before = await env.admin.write({ vdi: root!, pattern: 'clustered', percent: 5, seed: 21 });
    // Every export is cut (the root disk, device 0, goes first), the retry within the attempt too.
    await env.admin.setFaults({ exportCut: { afterBytes: 600 * 1024, times: 'always' } });
    const transferRetry = { tries: 2, baseDelayMs: 10, maxDelayMs: 10, storageWaitMs: 1000 };
    await assert.rejects(backupVm({ xapi: env.xapi, disksPerVm: 1, logger: env.logger, transferRetry }, request(basesOf(second))), (error: Error & { code?: string; retryable?: boolean }) => {
      assert.equal(error.code, 'EXPORT_INTERRUPTED');
      assert.match(error.message, /export of VDI .* broke after .*XAPI's task reported VDI_IO_ERROR/);
      assert.equal(error.retryable, true, 'the coordinator may try the task again');
      return true;
    });
    await env.admin.clearFaults();
    assert.deepEqual((await snapshotsOfWeb()).map((s) => s.uuid), [second.snapshotUuid], 'the failed run left no snapshot and kept the reference');
    assert.equal((await remote.storage.listBackups(webUuid)).length, 2, 'nothing was committed');
    const between = await env.admin.write({ vdi: root!, pattern: 'scattered', percent: 1, seed: 22 });
    const third = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, request(basesOf(second)));
    const rootDisk = third.disks.find((d) => d.diskKey === root)!;
    assert.equal(rootDisk.mode, 'delta');
    assert.ok(rootDisk.blocks >= before.blocks, `the delta holds the ${before.blocks} blocks written before the failed run (got ${rootDisk.blocks})`);
    assert.ok(rootDisk.blocks <= before.blocks + between.blocks);
    second = third;
  });

  it('reports the same result for a redelivered task and does nothing else', async () => {
    const [root] = await env.diskUuids(webUuid);
    await env.admin.write({ vdi: root!, pattern: 'clustered', percent: 3, seed: 31 });
    const task = request(basesOf(second));
    const once = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, task);
    const backupsAfterFirst = (await remote.storage.listBackups(webUuid)).length;
    const again = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, task);
    assert.equal(again.redelivered, true);
    assert.deepEqual({ ...again, redelivered: false }, once);
    assert.equal((await remote.storage.listBackups(webUuid)).length, backupsAfterFirst);
    assert.deepEqual((await snapshotsOfWeb()).map((s) => s.uuid), [once.snapshotUuid]);
    second = once;
  });

  it('fails cleanly when the SR refuses the snapshot (SR_BACKEND_FAILURE_82), changing nothing', async () => {
    await env.admin.setFaults({ snapshotFailure: { times: 1 } });
    await assert.rejects(backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, request(basesOf(second))), /SR_BACKEND_FAILURE_82/);
    assert.deepEqual((await snapshotsOfWeb()).map((s) => s.uuid), [second.snapshotUuid]);
  });

  it('exports a full, and says why, when a remote lacks the base (a new remote keeps its own reference)', async () => {
    const other = await startHostRemote('other-remote');
    try {
      const outcome = await backupVm(
        { xapi: env.xapi, disksPerVm: 2, logger: env.logger },
        request(basesOf(second), { targets: [{ remoteId: other.remoteId, backupId: 'other-1', storage: other.storage }] }),
      );
      for (const disk of outcome.disks) {
        assert.equal(disk.mode, 'full');
        assert.equal(disk.fullReason, 'remote-lacks-base');
        assert.match(disk.detail!, /other-remote/);
      }
      const uuids = (await snapshotsOfWeb()).map((s) => s.uuid).sort();
      assert.deepEqual(uuids, [second.snapshotUuid, outcome.snapshotUuid].sort(), "each remote set keeps its own reference");
      await env.xapi.call('VM.destroy', (await env.xapi.getRecordByUuid('VM', outcome.snapshotUuid)).ref);
    } finally {
      await other.close();
    }
  });

  it('exports a full, and says why, when an admin deleted the reference', async () => {
    await env.admin.deleteSnapshot(second.snapshotUuid);
    const outcome = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, request(basesOf(second)));
    for (const disk of outcome.disks) {
      assert.equal(disk.mode, 'full');
      assert.equal(disk.fullReason, 'reference-gone');
      assert.match(disk.detail!, /gone from the pool/);
    }
    second = outcome;
  });

  it('destroys leftovers of an interrupted run before taking a new snapshot', async () => {
    const { ref } = await env.xapi.getRecordByUuid<XapiVm>('VM', webUuid);
    const leftover = await env.xapi.callAsync<string>('VM.snapshot', ref, 'crashed run');
    for (const [key, value] of Object.entries({
      'deltachain:policy': policyId,
      'deltachain:vm': webUuid,
      'deltachain:datetime': new Date().toISOString(),
      'deltachain:task': 'crashed-task',
      'deltachain:remotes': remote.remoteId,
    })) {
      await env.xapi.call('VM.add_to_other_config', leftover, key, value);
    }
    const leftoverUuid = (await env.xapi.getRecord<XapiVm>('VM', leftover)).uuid;
    const outcome = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, request(basesOf(second)));
    assert.ok(outcome.removedSnapshots.some((s) => s.uuid === leftoverUuid && /did not commit/.test(s.reason)));
    assert.deepEqual((await snapshotsOfWeb()).map((s) => s.uuid), [outcome.snapshotUuid]);
    assert.ok(outcome.disks.every((d) => d.mode === 'delta'));
    second = outcome;
  });

  it('leaves out a disk flagged to be skipped', async () => {
    const [, data] = await env.diskUuids(webUuid);
    const dataRef = await env.xapi.call<string>('VDI.get_by_uuid', data);
    await env.xapi.call('VDI.add_to_other_config', dataRef, 'deltachain:skip', 'true');
    try {
      const outcome = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, request(basesOf(second)));
      assert.deepEqual(outcome.disks.map((d) => d.diskKey), [(await env.diskUuids(webUuid))[0]]);
      assert.deepEqual(outcome.skippedDisks, [{ diskKey: data, reason: 'other_config deltachain:skip=true' }]);
      const snapshot = await env.xapi.getRecordByUuid<XapiVm>('VM', outcome.snapshotUuid);
      assert.equal(snapshot.record.VBDs.length >= 1, true);
      second = outcome;
    } finally {
      await env.xapi.call('VDI.remove_from_other_config', dataRef, 'deltachain:skip');
    }
  });

  it('finishes a run that crashed between the commit and the exported mark when the task is redelivered', async () => {
    const [root] = await env.diskUuids(webUuid);
    await env.admin.write({ vdi: root!, pattern: 'clustered', percent: 3, seed: 41 });
    const task = request(basesOf(second));
    const done = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, task);
    // What a crash right after CommitBackup leaves: the new snapshot tagged but neither marked nor reported.
    const { ref } = await env.xapi.getRecordByUuid<XapiVm>('VM', done.snapshotUuid);
    await env.xapi.call('VM.remove_from_other_config', ref, 'deltachain:result');
    await env.xapi.call('VM.remove_from_other_config', ref, 'deltachain:exported');
    const again = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, task);
    assert.equal(again.redelivered, true);
    assert.equal(again.snapshotUuid, done.snapshotUuid);
    assert.deepEqual(again.backups, done.backups);
    assert.deepEqual(again.disks.map((d) => [d.diskKey, d.mode, d.snapshotVdiUuid]), done.disks.map((d) => [d.diskKey, d.mode, d.snapshotVdiUuid]));
    assert.match(again.warnings.join(' '), /reported from the remotes/);
    const tags = readSnapshotTags((await env.xapi.getRecord<XapiVm>('VM', ref)).other_config);
    assert.equal(tags?.exported, true, 'the snapshot is the reference again');
    assert.deepEqual((await snapshotsOfWeb()).map((s) => s.uuid), [done.snapshotUuid]);
    second = done;
  });
});
