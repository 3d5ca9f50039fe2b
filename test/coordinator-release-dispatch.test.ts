// The coordinator's side of releasing reference snapshots, on a real catalogue with its own
// dispatcher (tasks published to a list) and event handler: a policy retargeted from nas to a
// remote seeded from nas's files. The release the edit queues waits while the policy's backups on
// the pool are queued or running; nas's reference is held back while it is still the seed of the
// new remote's first delta (the release is done without being sent); once the new remote has its
// own reference, the release goes to the pool and its success forgets nas's row only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as catalogue from '../coordinator/catalogue/index.js';
import { Dispatcher } from '../coordinator/dispatch/dispatcher.js';
import { EventHandler } from '../coordinator/events/event-handler.js';
import { queueStaleReleases } from '../coordinator/dispatch/queue-releases.js';
import { queueTask } from '../coordinator/dispatch/queue-task.js';
import type { ReleasePayload } from '../coordinator/tasks/index.js';
import { DEFAULT_TASK_LIMITS } from '../coordinator/lifecycle/index.js';
import { parsePolicySettings, type Policy } from '../coordinator/policy/index.js';
import { randomIds } from '../coordinator/tasks/index.js';
import { createLogger } from '../shared/logging/index.js';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';

const logger = createLogger({ level: 'silent' });
const VM = '11111111-1111-4111-8111-111111111111';
const SEED_VDI = '22222222-2222-4222-8222-222222222222';

describe('release of reference snapshots at dispatch', { timeout: 30_000 }, () => {
  let db: TestDatabase;
  let policy: Policy;
  let dispatcher: Dispatcher;
  let handler: EventHandler;
  const sent: catalogue.TaskRecord[] = [];
  const how = () => ({ ids: randomIds, limits: DEFAULT_TASK_LIMITS, now: new Date(), runId: null });
  const references = async () => (await db.sql<{ remote: string }[]>`select remote_name as remote from reference_snapshots where vm_uuid = ${VM} order by 1`).map((r) => r.remote);
  const reference = (remote: string, vdi: string) => catalogue.setReference(db.sql, { policyId: policy.id, vmUuid: VM, remote, snapshotUuid: randomUUID(), vdis: { xvda: vdi }, takenAt: new Date() }, new Date());
  const round = async () => {
    sent.length = 0;
    await dispatcher.runRound();
    return [...sent];
  };

  before(async () => {
    db = await createTestDatabase();
    for (const name of ['nas', 'seed']) await catalogue.addRemote(db.sql, { name });
    await catalogue.addPool(db.sql, { name: 'lab' });
    await catalogue.upsertVm(db.sql, { uuid: VM, poolName: 'lab', nameLabel: 'web', tags: [], powerState: 'Running', lastSeenAt: new Date() });
    policy = await catalogue.insertPolicy(db.sql, randomUUID(), parsePolicySettings({ name: 'nightly', selection: { vmUuids: [VM] }, remotes: ['nas'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' }, retention: 3 }), new Date());
    await reference('nas', SEED_VDI);
    // The seed remote holds a copy of nas's chain: its tail is nas's reference VDI.
    await db.sql.begin((tx) => catalogue.recordBackup(tx, { id: 'b1', vmUuid: VM, remote: 'seed', takenAt: new Date(), metadataPath: 'm', disks: [{ diskKey: 'xvda', file: 'f', sizeBytes: 1, virtualSize: 1, footerUuid: SEED_VDI, parentFooterUuid: null, checksum: '' }] }, new Date()));
    policy = await catalogue.updatePolicy(db.sql, policy.id, parsePolicySettings({ name: 'nightly', selection: { vmUuids: [VM] }, remotes: ['seed'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' }, retention: 3 }), new Date());
    dispatcher = new Dispatcher({ sql: db.sql, publisher: { publish: async (task) => void sent.push(task) }, clock: () => new Date(), retryDelay: () => 60_000, logger });
    handler = new EventHandler({ sql: db.sql, clock: () => new Date(), ids: randomIds, limits: DEFAULT_TASK_LIMITS, retryDelay: () => 60_000, lookup: { findBackup: async () => undefined }, logger });
  });
  after(() => db?.drop());

  it('an edit that drops a remote queues one release for the pool, keeping the policy’s remotes', async () => {
    const [task, ...more] = await queueStaleReleases(db.sql, policy, how());
    assert.equal(more.length, 0);
    assert.deepEqual([task!.kind, task!.address, task!.runId], ['release', 'lab', null]);
    assert.deepEqual(task!.payload, { policyId: policy.id, policyName: 'nightly', reason: 'remote-dropped', vmUuids: [VM], keepRemotes: ['seed'] });
  });

  it('waits while a backup of the policy on the pool is queued', async () => {
    const backup = await queueTask(db.sql, { id: randomUUID(), kind: 'backup', addressKind: 'pool', address: 'lab', remoteName: 'seed', vmUuid: VM, payload: { policyId: policy.id, policyName: policy.name, retention: policy.retention, backupId: 'b2', vmName: 'vm', forceFull: false } }, DEFAULT_TASK_LIMITS, new Date(Date.now() + 3_600_000));
    assert.deepEqual(await round(), [], 'neither goes: the backup is not due, the release waits for it');
    await db.sql`update tasks set state = 'cancelled', finished_at = now() where id = ${backup.id}`;
  });

  it('holds back a VM whose dropped reference still seeds a kept remote: done without being sent', async () => {
    assert.deepEqual(await round(), []);
    const [task] = await db.sql<catalogue.TaskRecord[]>`select * from tasks where kind = 'release'`;
    assert.equal(task!.state, 'succeeded');
    assert.deepEqual((task!.payload as unknown as ReleasePayload).heldAsSeed, [VM]);
    assert.deepEqual(task!.result, { destroyedSnapshotUuids: [], heldAsSeed: [VM] });
    assert.deepEqual(await references(), ['nas'], 'the seed’s row stays');
  });

  it('once the new remote has its own reference, the release goes to the pool and forgets the dropped remote’s row only', async () => {
    await reference('seed', randomUUID());
    await queueStaleReleases(db.sql, policy, how());
    const [task, ...more] = await round();
    assert.equal(more.length, 0);
    assert.deepEqual((task!.payload as unknown as ReleasePayload).vmUuids, [VM]);
    const destroyed = [randomUUID()];
    await handler.handle({ type: 'result', eventId: randomUUID(), sender: { role: 'host', scope: 'lab', agent: 'host-lab' }, at: new Date(), taskId: task!.id, ok: true, durationMs: 1, attempt: task!.attempt, output: { kind: 'release', destroyedSnapshotUuids: destroyed, destroyedOrphanVdiUuids: ['orphan-vdi'] } });
    assert.deepEqual((await catalogue.getTask(db.sql, task!.id)).result, { destroyedSnapshotUuids: destroyed, destroyedOrphanVdiUuids: ['orphan-vdi'], forgottenReferences: 1 });
    assert.deepEqual(await references(), ['seed']);
    assert.deepEqual(await queueStaleReleases(db.sql, policy, how()), [], 'nothing left to release');
  });
});
