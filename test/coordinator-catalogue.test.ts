// The catalogue against a real Postgres: constraints guard the invariants, queries return what
// the planner and the CLI need. One fresh database for the file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';
import * as catalogue from '../coordinator/catalogue/index.js';
import { parsePolicySettings } from '../coordinator/policy/index.js';
import type { BackupFacts } from '../coordinator/catalogue/index.js';

const VM = '11111111-1111-4111-8111-111111111111';
const VM2 = '22222222-2222-4222-8222-222222222222';
const now = new Date('2024-06-01T00:00:00Z');
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function facts(id: string, day: number, disks: [string, number, number | null][], remote = 'nas'): BackupFacts {
  return {
    id,
    vmUuid: VM,
    remote,
    takenAt: new Date(Date.UTC(2024, 0, day)),
    metadataPath: `vms/${VM}/backups/${id}.json`,
    disks: disks.map(([diskKey, footer, parent]) => ({
      diskKey,
      file: `vms/${VM}/disks/${diskKey}/${id}.vhd`,
      sizeBytes: 1000,
      virtualSize: 1 << 30,
      footerUuid: uuid(footer),
      parentFooterUuid: parent === null ? null : uuid(parent),
      checksum: 'ab',
    })),
  };
}

describe('catalogue', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    await catalogue.addPool(db.sql, { name: 'lab', site: 'paris' });
    await catalogue.addRemote(db.sql, { name: 'nas', location: '/srv/backups' });
    await catalogue.addRemote(db.sql, { name: 'offsite' });
  });
  after(() => db.drop());

  describe('pools and remotes', () => {
    it('refuses a duplicate name with a conflict', async () => {
      await assert.rejects(catalogue.addPool(db.sql, { name: 'lab' }), { code: 'CONFLICT' });
    });
    it('refuses a name outside the id pattern', async () => {
      await assert.rejects(catalogue.addRemote(db.sql, { name: 'Bad Name' }), { code: 'INVALID_INPUT' });
    });
    it('says how to add a missing pool', async () => {
      await assert.rejects(catalogue.getPool(db.sql, 'nope'), /deltachain pool add nope/);
    });
  });

  describe('policies', () => {
    const settings = parsePolicySettings({
      name: 'nightly',
      selection: { tags: ['prod'] },
      remotes: ['nas', 'offsite'],
      schedule: { cron: '0 2 * * *', timeZone: 'UTC' },
      retention: 3,
      fullInterval: 2,
    });
    let id: string;
    it('stores and reads back every field', async () => {
      id = randomUUID();
      const policy = await catalogue.insertPolicy(db.sql, id, settings, now);
      assert.deepEqual(policy.remotes, ['nas', 'offsite']);
      assert.deepEqual(policy.selection, { vmUuids: [], tags: ['prod'], pools: [] });
      assert.equal(policy.fullInterval, 2);
      assert.equal(policy.purgeSnapshotData, true);
      assert.deepEqual((await catalogue.getPolicyByName(db.sql, 'nightly')).id, id);
    });
    it('stores purgeSnapshotData: false and back', async () => {
      assert.equal((await catalogue.updatePolicy(db.sql, id, { ...settings, purgeSnapshotData: false }, now)).purgeSnapshotData, false);
      assert.equal((await catalogue.getPolicyByName(db.sql, 'nightly')).purgeSnapshotData, false);
      assert.equal((await catalogue.updatePolicy(db.sql, id, settings, now)).purgeSnapshotData, true);
    });
    it('refuses an unknown remote and writes nothing', async () => {
      await assert.rejects(
        catalogue.insertPolicy(db.sql, randomUUID(), { ...settings, name: 'other', remotes: ['ghost'] }, now),
        /not registered; add it with `deltachain remote add NAME`/,
      );
      await assert.rejects(catalogue.getPolicyByName(db.sql, 'other'), { code: 'NOT_FOUND' });
    });
    it('refuses a second policy with the same name', async () => {
      await assert.rejects(catalogue.insertPolicy(db.sql, randomUUID(), settings, now), { code: 'CONFLICT' });
    });
    it('updates remotes and settings together', async () => {
      const updated = await catalogue.updatePolicy(db.sql, id, { ...settings, remotes: ['offsite'], retention: 5 }, now);
      assert.deepEqual(updated.remotes, ['offsite']);
      assert.equal(updated.retention, 5);
      await catalogue.updatePolicy(db.sql, id, settings, now);
    });
    it('enables and disables', async () => {
      await catalogue.setPolicyEnabled(db.sql, 'nightly', false, now);
      assert.equal((await catalogue.listPolicies(db.sql, { enabledOnly: true })).length, 0);
      await catalogue.setPolicyEnabled(db.sql, 'nightly', true, now);
      assert.equal((await catalogue.listPolicies(db.sql, { enabledOnly: true })).length, 1);
    });
    it('a registered remote in use cannot be deleted from under a policy', async () => {
      await assert.rejects(db.sql`delete from remotes where name = 'offsite'`, /foreign key/);
    });
  });

  describe('VMs and agents', () => {
    it('selects VMs by uuid, tag or pool', async () => {
      await catalogue.upsertVm(db.sql, { uuid: VM, poolName: 'lab', nameLabel: 'web', tags: ['prod'], powerState: 'Running', lastSeenAt: now });
      await catalogue.upsertVm(db.sql, { uuid: VM2, poolName: 'lab', nameLabel: 'db', tags: [], powerState: 'Halted', lastSeenAt: now });
      const pick = async (s: { vmUuids?: string[]; tags?: string[]; pools?: string[] }) =>
        (await catalogue.selectVms(db.sql, { vmUuids: [], tags: [], pools: [], ...s })).map((v) => v.nameLabel);
      assert.deepEqual(await pick({ tags: ['prod'] }), ['web']);
      assert.deepEqual(await pick({ vmUuids: [VM2] }), ['db']);
      assert.deepEqual(await pick({ pools: ['lab'] }), ['db', 'web']);
      assert.deepEqual(await pick({ tags: ['none'] }), []);
    });
    it('keeps the newest heartbeat even when an old one arrives late', async () => {
      const beat = { id: 'st-1', role: 'storage' as const, target: 'nas', version: '1', address: '127.0.0.1:1', runningTasks: 0, concurrency: 2, startedAt: now };
      await catalogue.recordHeartbeat(db.sql, { ...beat, at: new Date(now.getTime() + 2000), version: '2' });
      await catalogue.recordHeartbeat(db.sql, { ...beat, at: new Date(now.getTime() + 1000), version: '1' });
      const [agent] = await catalogue.listAgents(db.sql);
      assert.equal(agent?.version, '2');
      assert.equal(agent?.known, true);
      assert.equal(agent?.address, '127.0.0.1:1', 'shown as the agent says');
      assert.equal(await catalogue.registeredAddressOf(db.sql, 'nas'), undefined, 'but never the address tasks use');
    });
  });

  describe('runs and tasks', () => {
    it('records one run per policy and scheduled time', async () => {
      const policy = await catalogue.getPolicyByName(db.sql, 'nightly');
      const at = new Date('2024-06-02T02:00:00Z');
      const base = { policyId: policy.id, policyName: policy.name, scheduledAt: at, trigger: 'schedule' as const, createdAt: now };
      const first = await catalogue.insertRun(db.sql, { ...base, id: randomUUID() });
      const second = await catalogue.insertRun(db.sql, { ...base, id: randomUUID() });
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.run.id, first.run.id);
      assert.deepEqual(await catalogue.lastScheduledAt(db.sql, policy.id), at);
    });
    it('allows one backup task per VM and remote in a run', async () => {
      const [run] = await catalogue.listRuns(db.sql);
      const task = { runId: run!.id, kind: 'backup' as const, addressKind: 'pool' as const, address: 'lab', remoteName: 'nas', vmUuid: VM, payload: { policyId: run!.policyId!, policyName: 'nightly', retention: 3, backupId: 'b1', vmName: 'vm', forceFull: false }, maxAttempts: 3, timeoutSeconds: 60, notBefore: now, createdAt: now };
      await catalogue.insertTask(db.sql, { ...task, id: randomUUID() });
      await catalogue.insertTask(db.sql, { ...task, id: randomUUID(), remoteName: 'offsite' });
      await assert.rejects(catalogue.insertTask(db.sql, { ...task, id: randomUUID() }), /tasks_one_backup_per_vm_remote_and_run/);
      assert.equal((await catalogue.listTasksOfRun(db.sql, run!.id)).length, 2);
    });
    it('saves a lifecycle under the row lock', async () => {
      const [run] = await catalogue.listRuns(db.sql);
      const [task] = await catalogue.listTasksOfRun(db.sql, run!.id);
      await catalogue.withTaskLocked(db.sql, task!.id, async (t) => ({
        save: { ...t, state: 'dispatched', attempt: 1, dispatchedAt: now, deadlineAt: new Date(now.getTime() + 60_000) },
        value: undefined,
      }));
      const saved = await catalogue.getTask(db.sql, task!.id);
      assert.equal(saved.state, 'dispatched');
      assert.equal(saved.attempt, 1);
      assert.deepEqual((await catalogue.listOverdueTasks(db.sql, new Date(now.getTime() + 61_000))).map((t) => t.id), [task!.id]);
    });
    it('refuses a finished task without finish time (constraint)', async () => {
      const [run] = await catalogue.listRuns(db.sql);
      const [task] = await catalogue.listTasksOfRun(db.sql, run!.id);
      await assert.rejects(db.sql`update tasks set state = 'succeeded' where id = ${task!.id}`, /check constraint/);
    });
  });

  describe('backups and chains', () => {
    it('links deltas to their parents and reports chain tails', async () => {
      await db.sql.begin(async (tx) => {
        assert.equal(await catalogue.recordBackup(tx, facts('b1', 1, [['xvda', 1, null], ['xvdb', 2, null]]), now), true);
        await catalogue.recordBackup(tx, facts('b2', 2, [['xvda', 3, 1], ['xvdb', 4, 2]]), now);
        await catalogue.recordBackup(tx, facts('b3', 3, [['xvda', 5, 3], ['xvdb', 6, 4]]), now);
      });
      assert.deepEqual(await catalogue.chainTails(db.sql, VM, 'nas'), {
        xvda: { footerUuid: uuid(5), position: 2 },
        xvdb: { footerUuid: uuid(6), position: 2 },
      });
      const view = await catalogue.retentionView(db.sql, VM, 'nas');
      assert.deepEqual(view.map((b) => [b.id, b.parents]), [['b1', []], ['b2', ['b1']], ['b3', ['b2']]]);
    });
    it('records a backup id once', async () => {
      assert.equal(await db.sql.begin((tx) => catalogue.recordBackup(tx, facts('b3', 3, [['xvda', 5, 3]]), now)), false);
    });
    it('refuses a fork: a second child of one parent', async () => {
      await assert.rejects(
        db.sql.begin((tx) => catalogue.recordBackup(tx, facts('fork', 4, [['xvda', 7, 3]]), now)),
        /must not fork/,
      );
      await assert.rejects(catalogue.getBackup(db.sql, 'fork'), { code: 'NOT_FOUND' });
    });
    it('refuses a delta whose parent it does not know and says to scan', async () => {
      await assert.rejects(
        db.sql.begin((tx) => catalogue.recordBackup(tx, facts('orphan', 4, [['xvda', 8, 99]]), now)),
        /remote scan nas/,
      );
    });
    it('allows one committed backup per task', async () => {
      const [task] = await db.sql<{ id: string }[]>`select id from tasks limit 1`;
      await db.sql.begin((tx) => catalogue.recordBackup(tx, { ...facts('t1', 10, [['xvdz', 50, null]]), taskId: task!.id }, now));
      await assert.rejects(
        db.sql.begin((tx) => catalogue.recordBackup(tx, { ...facts('t2', 11, [['xvdy', 51, null]]), taskId: task!.id }, now)),
        /backups_task_id_key/,
      );
      await catalogue.applyDelete(db.sql, 'nas', 't1', now);
    });
    it('a merge turns the child into the full, with the merged files’ sizes, and retires the parent', async () => {
      // The agent reported xvda's merged size only (an older agent reports none): xvdb keeps its own.
      await catalogue.applyMerge(db.sql, 'nas', 'b2', ['b1'], [{ diskKey: 'xvda', sizeBytes: 5000 }], now);
      const view = await catalogue.retentionView(db.sql, VM, 'nas');
      assert.deepEqual(view.map((b) => [b.id, b.parents]), [['b2', []], ['b3', ['b2']]]);
      const disks = await catalogue.listDisksOfBackup(db.sql, (await catalogue.getBackup(db.sql, 'b2')).key);
      assert.deepEqual(disks.map((d) => [d.kind, d.parentId, d.position]), [['full', null, 1], ['full', null, 1]]);
      assert.deepEqual(disks.map((d) => [d.diskKey, d.sizeBytes]), [['xvda', 5000], ['xvdb', 1000]]);
      assert.equal((await catalogue.getBackup(db.sql, 'b2')).sizeBytes, 6000, 'the backup’s size is its disks’ sizes');
      assert.equal((await catalogue.getBackup(db.sql, 'b1')).status, 'deleted');
      assert.deepEqual((await catalogue.chainTails(db.sql, VM, 'nas')).xvda, { footerUuid: uuid(5), position: 2 });
    });
  });

  describe('references', () => {
    it('keeps the newest per policy, VM and remote', async () => {
      const policy = await catalogue.getPolicyByName(db.sql, 'nightly');
      const ref = { policyId: policy.id, vmUuid: VM, remote: 'nas', snapshotUuid: uuid(100), vdis: { xvda: uuid(5) }, takenAt: new Date(2000) };
      await catalogue.setReference(db.sql, ref, now);
      await catalogue.setReference(db.sql, { ...ref, snapshotUuid: uuid(101), takenAt: new Date(1000) }, now);
      assert.deepEqual(await catalogue.listReferences(db.sql, policy.id, VM), [
        { remote: 'nas', snapshotUuid: uuid(100), vdis: { xvda: uuid(5) }, gone: false },
      ]);
      await catalogue.markReferenceGone(db.sql, policy.id, VM, 'nas', now);
      assert.equal((await catalogue.listReferences(db.sql, policy.id, VM))[0]?.gone, true);
    });
  });

  describe('the same backup on two remotes', () => {
    it('is two rows, one per remote; asking by id alone then needs the remote', async () => {
      await db.sql.begin(async (tx) => {
        await catalogue.recordBackup(tx, facts('copy', 20, [['xvdq', 60, null]], 'nas'), now);
        assert.equal(await catalogue.recordBackup(tx, facts('copy', 20, [['xvdq', 60, null]], 'offsite'), now), true);
      });
      await assert.rejects(catalogue.getBackup(db.sql, 'copy'), /backup copy is on several remotes \(nas, offsite\); say which with --remote/);
      assert.equal((await catalogue.getBackup(db.sql, 'copy', 'offsite')).remoteName, 'offsite');
      await catalogue.applyDelete(db.sql, 'offsite', 'copy', now);
      assert.equal((await catalogue.getBackup(db.sql, 'copy', 'nas')).status, 'committed');
      await catalogue.applyDelete(db.sql, 'nas', 'copy', now);
    });
  });

  describe('adopting a remote scan', () => {
    it('records unknown backups parents first, keeps known ones, and marks vanished ones deleted', async () => {
      const scan = [
        facts('s3', 3, [['xvda', 23, 22]], 'offsite'),
        facts('s1', 1, [['xvda', 21, null]], 'offsite'),
        facts('s2', 2, [['xvda', 22, 21]], 'offsite'),
      ];
      const first = await catalogue.adoptRemoteScan(db.sql, 'offsite', scan, now);
      assert.deepEqual(first.unverified, ['s1', 's2', 's3'], 'the catalogue never saw them: recorded unverified');
      assert.deepEqual(first.adopted, []);
      assert.deepEqual(await catalogue.chainTails(db.sql, VM, 'offsite'), {}, 'unverified backups are no base for a delta');
      assert.deepEqual(await catalogue.acceptUnverified(db.sql, 'offsite'), ['s1', 's2', 's3']);
      const second = await catalogue.adoptRemoteScan(db.sql, 'offsite', scan.slice(1), now);
      assert.deepEqual(second, { adopted: [], known: ['s1', 's2'], missing: ['s3'], unverified: [], mismatched: [] });
      assert.deepEqual(await catalogue.chainTails(db.sql, VM, 'offsite'), { xvda: { footerUuid: uuid(22), position: 1 } });
      assert.ok((await catalogue.getRemote(db.sql, 'offsite')).lastScanAt);
    });
  });
});
