// Faults during a backup, at the host agent, on real parts (the lab pool through the real xen-api
// client, a storage agent as a real process): an export cut once is exported again from the same
// snapshot within the attempt and the backup is whole; a storage agent killed and restarted
// between two disks removed the first at start, so the commit finds it gone and both are sent
// again; a storage agent killed mid-upload that does not come back fails the backup on the
// storage side (not the pool's: XAPI's VDI_IO_ERROR after our own cancel is not blamed), as
// retryable, with the reference untouched.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ChannelCredentials } from '@grpc/grpc-js';
import { backupVm } from '../agent/host/backup/backup-vm.js';
import type { BackupRequest } from '../agent/host/backup/backup-types.js';
import { RemoteStorage } from '../agent/host/remote/remote-storage.js';
import type { XapiVm } from '../agent/host/xapi/xapi-records.js';
import { runVerifyTask } from '../agent/storage/tasks/verify-task.js';
import { DeltachainError } from '../shared/errors.js';
import { createLogger } from '../shared/logging/index.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { startHostRemote, type HostRemote } from './support/host-remote.js';
import { startAgentProcess } from './support/storage-agent-process.js';
import { tempRemoteRoot } from './support/storage-harness.js';
import { startTestNats, type TestNats } from './support/storage-nats.js';

const FAST_RETRY = { tries: 3, baseDelayMs: 20, maxDelayMs: 50, storageWaitMs: 1500 };

/** A logger whose JSON lines are kept for assertions. */
function recordingLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'info', pretty: false, destination }), lines };
}

describe('host agent: faults during a backup', () => {
  let env: HostLab;
  let remote: HostRemote;
  let nats: TestNats;
  let folder: string;
  let dbUuid: string;
  const policyId = randomUUID();

  before(async () => {
    env = await startHostLab();
    remote = await startHostRemote();
    nats = await startTestNats();
    folder = await tempRemoteRoot();
    dbUuid = await env.vmUuid('db');
  });
  after(async () => {
    await nats?.close();
    await remote?.close();
    await env?.close();
    await rm(folder, { recursive: true, force: true });
  });

  function request(backupId: string, target: { remoteId: string; storage: RemoteStorage }): BackupRequest {
    return { taskId: randomUUID(), policyId, policyJson: JSON.stringify({ id: policyId }), vmUuid: dbUuid, targets: [{ ...target, backupId }], bases: new Map() };
  }

  it('an export cut once is exported again from the same snapshot within the attempt, and the backup is whole', async () => {
    const { logger, lines } = recordingLogger();
    await env.admin.setFaults({ exportCut: { afterBytes: 3 * 1024 * 1024 } });
    const outcome = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger, transferRetry: FAST_RETRY }, request('20240201T000000Z-cut', remote));
    assert.deepEqual(await env.admin.faults(), {}, 'the cut happened');
    const retried = lines.find((l) => l.msg === 'disk transfer interrupted; sending the disk again');
    assert.ok(retried, 'the disk was sent again');
    assert.equal(retried.code, 'EXPORT_INTERRUPTED');
    assert.equal(retried.side, 'network', `a reset connection is the network's side: ${String(retried.reason)}`);
    assert.equal(outcome.disks.length, 1);
    const verify = await runVerifyTask(remote.harness.ctx, { vmUuid: dbUuid, backupId: '20240201T000000Z-cut' });
    assert.ok(verify.ok, JSON.stringify(verify));
    const files = (await readdir(join(remote.harness.root, 'vms', dbUuid, 'disks', outcome.disks[0]!.diskKey))).sort();
    assert.deepEqual(files, ['20240201T000000Z-cut.vhd', '20240201T000000Z-cut.vhd.sums'], 'no temporary of the cut try remains');
  });

  it('a storage agent killed and restarted between two disks: the lost first disk is sent again before the commit', async () => {
    const remoteId = `phoenix-${randomUUID().slice(0, 6)}`;
    const root = join(folder, 'phoenix');
    const options = { folder, root, remoteId, namespace: nats.namespace };
    let agent = await startAgentProcess(options);
    const port = Number(agent.address.split(':').pop());
    const storage = new RemoteStorage({ remoteId, address: agent.address, credentials: ChannelCredentials.createInsecure() }, { uploadWindow: 2, callTimeoutMs: 5000, retry: { tries: 2, baseDelayMs: 20, maxDelayMs: 50 } });
    const webUuid = await env.vmUuid('web');
    const { logger, lines } = recordingLogger();
    await env.admin.setFaults({ slowStreams: { bytesPerSecond: 8 * 1024 * 1024 } });
    try {
      const backup = backupVm({ xapi: env.xapi, disksPerVm: 1, logger, transferRetry: { ...FAST_RETRY, storageWaitMs: 30_000 } }, { ...request('20240203T000000Z-two', { remoteId, storage }), vmUuid: webUuid });
      backup.catch(() => undefined);
      const disks = join(root, 'vms', webUuid, 'disks');
      // The first disk is in place with its checksums (its call answered) and the second is being
      // received in another disk folder; a `.tmp` beside the first disk's VHD is its checksums still
      // being written, and a kill then would cut the first disk's own call.
      for (let i = 0; i < 400; i++) {
        const names = (await readdir(disks, { recursive: true }).catch(() => [] as string[])).map(String);
        const folderOf = (n: string) => n.split('/')[0];
        const done = names.filter((n) => n.endsWith('.vhd') && names.includes(`${n}.sums`)).map(folderOf);
        const receiving = names.filter((n) => n.endsWith('.tmp')).map(folderOf);
        if (done.length === 1 && receiving.length > 0 && receiving.every((f) => !done.includes(f))) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await agent.kill('SIGKILL');
      await env.admin.clearFaults();
      agent = await startAgentProcess({ ...options, port });
      const outcome = await backup;
      assert.ok(lines.some((l) => l.msg === 'remote lost the disks before the commit; sending them again'), `the commit found the first disk gone and both were sent again; the host agent logged: ${JSON.stringify(lines.map((l) => [l.msg, l.code, l.reason]))}`);
      assert.equal(outcome.disks.length, 2);
      assert.deepEqual((await storage.listBackups(webUuid)).map((b) => b.backupId), ['20240203T000000Z-two']);
      const files = (await readdir(disks, { recursive: true })).map(String).filter((n) => /\.(vhd|sums|tmp)$/.test(n)).sort();
      assert.equal(files.length, 4, `each disk and its checksums, nothing else: ${files.join(', ')}`);
    } finally {
      await env.admin.clearFaults();
      storage.close();
      await agent.kill('SIGKILL');
    }
  });

  it('two remotes, one storage agent killed mid-upload for good: the other takes the backup (its uploads resume), the lost one is named in the outcome', async () => {
    const remoteId = `lost-${randomUUID().slice(0, 6)}`;
    const root = join(folder, 'lost');
    const agent = await startAgentProcess({ folder, root, remoteId, namespace: nats.namespace });
    const lost = new RemoteStorage({ remoteId, address: agent.address, credentials: ChannelCredentials.createInsecure() }, { uploadWindow: 2, callTimeoutMs: 5000, retry: { tries: 2, baseDelayMs: 20, maxDelayMs: 50 } });
    const webUuid = await env.vmUuid('web');
    const { logger, lines } = recordingLogger();
    await env.admin.setFaults({ slowStreams: { bytesPerSecond: 4 * 1024 * 1024 } });
    try {
      const backupId = '20240204T000000Z-pair';
      const backup = backupVm(
        { xapi: env.xapi, disksPerVm: 2, logger, transferRetry: FAST_RETRY },
        { ...request(backupId, remote), vmUuid: webUuid, targets: [{ remoteId: remote.remoteId, backupId, storage: remote.storage }, { remoteId, backupId, storage: lost }], policyRemotes: [remote.remoteId, remoteId] },
      );
      backup.catch(() => undefined);
      const disks = join(root, 'vms', webUuid, 'disks');
      for (let i = 0; i < 200; i++) {
        const temps = (await readdir(disks, { recursive: true }).catch(() => [] as string[])).filter((n) => String(n).endsWith('.tmp'));
        if (temps.length > 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await agent.kill('SIGKILL');
      const outcome = await backup;
      await env.admin.clearFaults();
      assert.deepEqual(outcome.backups.map((b) => b.remoteId), [remote.remoteId], 'the backup is on the remote that stayed');
      assert.deepEqual(outcome.failedTargets?.map((f) => [f.remoteId, f.code, f.side, f.retryable]), [[remoteId, 'STORAGE_CALL_FAILED', 'storage', true]]);
      assert.ok(lines.some((l) => l.msg === 'a remote failed: this backup goes on to the others without it; its task fails'), JSON.stringify(lines.map((l) => l.msg)));
      assert.deepEqual((await remote.storage.listBackups(webUuid)).map((b) => b.backupId), [backupId]);
      const verify = await runVerifyTask(remote.harness.ctx, { vmUuid: webUuid, backupId });
      assert.ok(verify.ok, JSON.stringify(verify));
      const { record } = await env.xapi.getRecordByUuid<XapiVm>('VM', webUuid);
      const tagged = (await Promise.all(record.snapshots.map((ref) => env.xapi.getRecord<XapiVm>('VM', ref)))).filter((s) => s.uuid === outcome.snapshotUuid);
      assert.equal(tagged[0]?.other_config['deltachain:remotes'], remote.remoteId, 'the new snapshot is the reference of the remote that took it only');
    } finally {
      await env.admin.clearFaults();
      lost.close();
      await agent.kill('SIGKILL');
    }
  });

  it('a storage agent killed mid-upload that does not come back fails the backup on the storage side, retryable, reference untouched', async () => {
    const remoteId = `doomed-${randomUUID().slice(0, 6)}`;
    const agent = await startAgentProcess({ folder, root: join(folder, 'remote'), remoteId, namespace: nats.namespace });
    const storage = new RemoteStorage({ remoteId, address: agent.address, credentials: ChannelCredentials.createInsecure() }, { uploadWindow: 2, callTimeoutMs: 5000, retry: { tries: 2, baseDelayMs: 20, maxDelayMs: 50 } });
    const { record: before } = await env.xapi.getRecordByUuid<XapiVm>('VM', dbUuid);
    await env.admin.setFaults({ slowStreams: { bytesPerSecond: 4 * 1024 * 1024 } });
    try {
      const disks = join(folder, 'remote', 'vms', dbUuid, 'disks');
      const backup = backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger, transferRetry: FAST_RETRY }, request('20240202T000000Z-kill', { remoteId, storage }));
      backup.catch(() => undefined);
      for (let i = 0; i < 200; i++) {
        const temps = (await readdir(disks, { recursive: true }).catch(() => [] as string[])).filter((n) => String(n).endsWith('.tmp'));
        if (temps.length > 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await agent.kill('SIGKILL');
      await assert.rejects(backup, (error: DeltachainError) => {
        assert.equal(error.code, 'STORAGE_CALL_FAILED', error.message);
        assert.equal(error.side, 'storage');
        assert.equal(error.retryable, true);
        assert.match(error.message, new RegExp(`storage agent of remote ${remoteId}: PutDisk failed: UNAVAILABLE: .* the storage agent is not answering`));
        assert.doesNotMatch(error.message, /VDI_IO_ERROR|SR health/, 'the pool is not blamed for our own cancel');
        return true;
      });
      const { record: afterwards } = await env.xapi.getRecordByUuid<XapiVm>('VM', dbUuid);
      assert.deepEqual(afterwards.snapshots, before.snapshots, 'the new snapshot is gone, the reference untouched');
    } finally {
      await env.admin.clearFaults();
      storage.close();
      await agent.kill('SIGKILL');
    }
  });
});
