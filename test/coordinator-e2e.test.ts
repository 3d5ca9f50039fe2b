// The coordinator end to end, with real parts: Postgres, NATS JetStream, real storage agents,
// the coordinator run as a `deltachain coordinator` process (SIGKILLed mid-run, then started
// again in this process), the control API over gRPC — and a stand-in host agent (pushing real disks to the real storage
// agents) in place of XAPI. Covers: a policy with two remotes writes both; deltas follow fulls;
// retention merges on the remotes; a duplicated task message or event records one backup; a
// coordinator killed in the middle of a run finishes it after a restart with no duplicate; a
// an initial seed continues with deltas on a copied remote; a remote scan rebuilds a remote's
// catalogue into an empty database.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import * as catalogue from '../coordinator/catalogue/index.js';
import type * as wire from '../shared/proto/gen/deltachain/control/v1/control.js';
import { publishEvent } from '../shared/nats/index.js';
import { TaskStatus } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { BackupResult } from '../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { encodeTask } from '../coordinator/dispatch/task-envelope.js';
import { createTestDatabase } from './support/pg-database.js';
import { startCoordinatorStack, type CoordinatorStack } from './support/pg-coordinator-stack.js';
import { StorageClient } from '../shared/grpc/storage-client.js';
import { readSigner } from '../shared/signing/index.js';

const VM = '5e1f0c9e-5a7d-4e55-9c3f-2d1b6a0e9f10';
const settings = (remotes: string[]): wire.PolicySettings => ({
  name: 'nightly', selection: { vmUuids: [VM], tags: [], pools: [] }, remotes, cron: '0 3 * * *', timeZone: 'UTC',
  retention: 2, fullInterval: 0, concurrency: 2, enabled: true,
});

async function waitFor<T>(what: string, read: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('coordinator end to end', { timeout: 240_000 }, () => {
  let stack: CoordinatorStack;
  const client = () => stack.client!;

  /** Runs the policy now and waits until the run and its retention tasks are finished. */
  async function runAndWait(): Promise<wire.RunDetail> {
    const { run } = await client().runPolicy({ name: 'nightly', forceFull: false, vmUuids: [] });
    return finished(run!.run!.id);
  }

  async function finished(runId: string): Promise<wire.RunDetail> {
    let last: wire.RunDetail | undefined;
    try {
      return await waitFor(`run ${runId} to finish`, async () => {
        const { run } = await client().getRun({ id: runId });
        last = run;
        const done = run!.run!.finishedAtMs > 0 && run!.tasks.every((t) => ['succeeded', 'failed', 'cancelled'].includes(t.state));
        return done ? run : undefined;
      }, 60_000);
    } catch (error) {
      const tasks = last?.tasks.map((t) => `${t.kind} ${t.remote} ${t.state} ${t.attempt} ${t.errorCode} ${t.errorMessage}`).join('\n');
      const logs = (stack.coordinator?.logs ?? []).filter((l) => Number(l.level) >= 40).map((l) => JSON.stringify(l)).join('\n');
      throw new Error(`${(error as Error).message}\nrun: ${last?.run?.state}\n${tasks}\ncoordinator warnings:\n${logs}`);
    }
  }

  const committed = (remote: string) => catalogue.listBackups(stack.db.sql, { vmUuid: VM, remote });
  const planOf = (t: wire.TaskInfo) => Object.values(JSON.parse(t.payloadJson).plan ?? {}).map((p) => (p as { mode: string }).mode);

  before(async () => {
    stack = await startCoordinatorStack('lab');
    await Promise.all([stack.startStorage('nas'), stack.startStorage('offsite')]);
    await stack.startCoordinator();
    await client().addPool({ name: 'lab', site: '', description: '' });
    await client().addRemote({ name: 'nas', address: stack.storage.get('nas')!.address, site: '', location: '', description: '' });
    await client().addRemote({ name: 'offsite', address: stack.storage.get('offsite')!.address, site: '', location: '', description: '' });
    // Inventory: what a host agent reports about its pool (the stand-in's VM).
    stack.host.addVm(VM, 'web', ['xvda', 'xvdb']);
    await catalogue.upsertVm(stack.db.sql, { uuid: VM, poolName: 'lab', nameLabel: 'web', tags: [], powerState: 'Running', lastSeenAt: new Date() });
    await client().createPolicy({ settings: settings(['nas', 'offsite']) });
  });
  after(() => stack?.close());

  it('a policy with two remotes writes both', async () => {
    const run = await runAndWait();
    assert.equal(run.run!.state, 'succeeded', JSON.stringify(run));
    assert.deepEqual(run.tasks.map((t) => t.remote).sort(), ['nas', 'offsite']);
    for (const remote of ['nas', 'offsite']) {
      const [backup, ...more] = await committed(remote);
      assert.equal(more.length, 0);
      assert.equal(backup!.diskCount, 2);
      assert.equal(backup!.fullDiskCount, 2);
      const storage = new StorageClient(stack.storage.get(remote)!.address, stack.security.coordinatorCredentials());
      assert.deepEqual((await storage.listBackups(VM)).map((b) => b.backupId), [backup!.id]);
      storage.close();
    }
    const agents = (await client().listAgents({})).agents.map((a) => `${a.role}:${a.target}`).sort();
    assert.deepEqual(agents, ['host:lab', 'storage:nas', 'storage:offsite']);
  });

  it('the next runs are deltas, and retention merges the oldest delta into the full', async () => {
    stack.host.write(VM, 'xvda', 1);
    const second = await runAndWait();
    assert.equal(second.run!.state, 'succeeded');
    for (const task of second.tasks) assert.deepEqual(planOf(task), ['delta', 'delta']);
    stack.host.write(VM, 'xvdb', 3);
    const third = await runAndWait();
    assert.equal(third.run!.state, 'succeeded', JSON.stringify(third.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    // A finished run already holds the retention merges its backups triggered.
    const merges = third.tasks.filter((t) => t.kind === 'merge');
    assert.deepEqual(merges.map((t) => t.state), ['succeeded', 'succeeded'], 'one merge per remote, in the run');
    for (const remote of ['nas', 'offsite']) {
      const backups = await committed(remote);
      assert.equal(backups.length, 2, `${remote} keeps 2 backups`);
      assert.equal(backups[0]!.fullDiskCount, 2, 'the oldest kept backup is now the full');
      assert.equal(backups[1]!.fullDiskCount, 0);
      const storage = new StorageClient(stack.storage.get(remote)!.address, stack.security.coordinatorCredentials());
      assert.deepEqual((await storage.listBackups(VM)).map((b) => b.backupId).sort(), backups.map((b) => b.id).sort(), "the remote holds the same backups (as a set: snapshot times are to the second)");
      storage.close();
      await assertSizesAsOnRemote(remote);
    }
  });

  /** `backup list` shows each backup's size as its files on the remote are (merged fulls included). */
  async function assertSizesAsOnRemote(remote: string): Promise<void> {
    const listed = (await client().listBackups({ vmUuid: VM, remote, all: false })).backups;
    for (const backup of listed) {
      const { key } = await catalogue.getBackup(stack.db.sql, backup.id, remote);
      let onRemote = 0;
      for (const disk of await catalogue.listDisksOfBackup(stack.db.sql, key)) {
        const size = (await stat(join(stack.folder, `remote-${remote}`, disk.file))).size;
        assert.equal(disk.sizeBytes, size, `${remote}: disk ${disk.diskKey} of ${backup.id} (${disk.kind}) as on the remote`);
        onRemote += size;
      }
      assert.equal(backup.sizeBytes, onRemote, `${remote}: backup ${backup.id} lists the size of its files on the remote`);
    }
  }

  it('a duplicated task message and a duplicated result record one backup', async () => {
    stack.host.write(VM, 'xvda', 2);
    const run = await runAndWait();
    const task = run.tasks.find((t) => t.kind === 'backup' && t.remote === 'nas')!;
    const before = (await committed('nas')).map((b) => b.id);
    const record = await catalogue.getTask(stack.db.sql, task.id);
    // The same task delivered again (a redelivery past the duplicate window): a new message id.
    await jetstream(stack.nats.nc).publish(stack.nats.names.hostTasks('lab'), encodeTask(record, readSigner(stack.security.signingKey)), { msgID: `${task.id}.again` });
    await waitFor('the second delivery to be handled', async () => (stack.host.deliveries.get(task.id) ?? 0) >= 2 && stack.host.reported.filter((id) => id === task.id).length >= 2);
    // And the same result event twice.
    const value = BackupResult.create({ backupId: JSON.parse(task.payloadJson).backupId, snapshotUuid: randomUUID(), bytesSent: 1 });
    for (let i = 0; i < 2; i++) {
      await publishEvent(stack.nats.nc, stack.nats.names, { role: 'host', scope: 'lab', agent: 'host-lab' }, task.id, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 1, output: { $case: 'backup', value } } });
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual((await committed('nas')).map((b) => b.id), before);
    const rows = await stack.db.sql`select id from backups where task_id = ${task.id}`;
    assert.equal(rows.length, 1);
    assert.equal((await catalogue.getTask(stack.db.sql, task.id)).state, 'succeeded');
  });

  it('a coordinator killed in the middle of a run finishes it after a restart, with no duplicate backup', async () => {
    stack.host.write(VM, 'xvdb', 0);
    const release = stack.host.hold();
    const { run } = await client().runPolicy({ name: 'nightly', forceFull: false, vmUuids: [] });
    const runId = run!.run!.id;
    const taskIds = run!.tasks.map((t) => t.id);
    await waitFor('both backup tasks to be running', async () => {
      const tasks = await catalogue.listTasksOfRun(stack.db.sql, runId);
      return tasks.filter((t) => t.kind === 'backup' && t.state === 'running').length === 2;
    });
    await stack.stopCoordinator('SIGKILL');
    release();
    await waitFor('the agent to finish while the coordinator is down', async () => taskIds.every((id) => stack.host.reported.includes(id)));
    assert.equal((await catalogue.getRun(stack.db.sql, runId)).finishedAt, null, 'nothing recorded while the coordinator was down');
    await stack.startCoordinator(undefined, { inProcess: true });
    const done = await finished(runId);
    assert.equal(done.run!.state, 'succeeded', JSON.stringify(done.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    for (const id of taskIds) {
      assert.equal((await stack.db.sql`select id from backups where task_id = ${id}`).length, 1);
      assert.equal(stack.host.deliveries.get(id), 1, 'the agent ran each task once');
    }
    for (const remote of ['nas', 'offsite']) assert.equal((await committed(remote)).length, 2, `${remote} back to 2 after retention`);
  });

  it('an initial seed: a copied remote, scanned, continues with a delta when the policy is retargeted', async () => {
    const nasRoot = join(stack.folder, 'remote-nas');
    const seedRoot = join(stack.folder, 'remote-seed');
    await cp(nasRoot, seedRoot, { recursive: true });
    await stack.startStorage('seed', seedRoot);
    await client().addRemote({ name: 'seed', address: stack.storage.get('seed')!.address, site: '', location: '', description: '' });
    const { task } = await client().scanRemote({ name: 'seed', removeGarbage: false, accept: false, graceSeconds: 3600 });
    await waitFor('the seed scan', async () => (await client().getTask({ id: task!.id })).task!.state === 'succeeded');
    await client().updatePolicy({ name: 'nightly', settings: settings(['seed']) });
    stack.host.write(VM, 'xvda', 3);
    const run = await runAndWait();
    assert.equal(run.run!.state, 'succeeded', JSON.stringify(run.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    const backup = run.tasks.find((t) => t.kind === 'backup')!;
    assert.equal(backup.remote, 'seed');
    assert.deepEqual(planOf(backup), ['delta', 'delta']);
    const [newest] = (await committed('seed')).slice(-1);
    assert.equal(newest!.fullDiskCount, 0, 'the new backup on the seeded remote is a delta');
  });
  it('remote scan rebuilds the catalogue of a remote from its files into an empty database', async () => {
    const expected = await committed('nas');
    const expectedTails = await catalogue.chainTails(stack.db.sql, VM, 'nas');
    await stack.stopCoordinator();
    const empty = await createTestDatabase({ migrate: false });
    const fresh = await stack.startCoordinator(empty.url, { inProcess: true });
    try {
      await fresh.addRemote({ name: 'nas', address: stack.storage.get('nas')!.address, site: '', location: '', description: '' });
      const { task } = await fresh.scanRemote({ name: 'nas', removeGarbage: false, accept: false, graceSeconds: 3600 });
      const scanned = await waitFor('the scan', async () => {
        const { task: t } = await fresh.getTask({ id: task!.id });
        return t!.state === 'succeeded' || t!.state === 'failed' ? t : undefined;
      });
      assert.equal(scanned.state, 'succeeded', scanned.errorMessage);
      // An empty catalogue vouches for nothing: the scan records what it found unverified, and
      // the operator accepts it.
      assert.deepEqual(JSON.parse(scanned.resultJson).unverified.sort(), expected.map((b) => b.id).sort());
      assert.deepEqual(await catalogue.chainTails(empty.sql, VM, 'nas'), {}, 'unverified backups are no base');
      const { acceptedBackupIds } = await fresh.scanRemote({ name: 'nas', removeGarbage: false, accept: true, graceSeconds: 0 });
      assert.deepEqual([...acceptedBackupIds].sort(), expected.map((b) => b.id).sort());
      const rebuilt = await catalogue.listBackups(empty.sql, { vmUuid: VM, remote: 'nas' });
      assert.deepEqual(rebuilt.map((b) => [b.id, b.takenAt.getTime(), b.diskCount, b.fullDiskCount]), expected.map((b) => [b.id, b.takenAt.getTime(), b.diskCount, b.fullDiskCount]));
      // The same chain tails. (Positions count the backups a chain has taken; a remote knows only
      // the disks it still holds, so after merges a rebuilt catalogue counts from its full.)
      const footers = (tails: Record<string, { footerUuid: string }>) => Object.fromEntries(Object.entries(tails).map(([k, t]) => [k, t.footerUuid]));
      assert.deepEqual(footers(await catalogue.chainTails(empty.sql, VM, 'nas')), footers(expectedTails));
    } finally {
      await stack.stopCoordinator();
      await empty.drop();
    }
  });
});
