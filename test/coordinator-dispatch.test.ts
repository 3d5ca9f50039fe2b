// Dispatch and event consumption against a real NATS JetStream (own namespace) and Postgres:
// timeouts and retries with backoff end in a failure that names its cause; a republished
// attempt is dropped by the server's duplicate window while a retry is a new message; a task
// that cannot go yet (no storage agent) waits and goes once one announces itself; a publish
// that fails is retried; events move tasks, a malformed event is skipped.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';
import * as catalogue from '../coordinator/catalogue/index.js';
import { Dispatcher } from '../coordinator/dispatch/dispatcher.js';
import { EventConsumer } from '../coordinator/events/event-consumer.js';
import { EventHandler } from '../coordinator/events/event-handler.js';
import { NatsTaskPublisher } from '../coordinator/dispatch/nats-task-publisher.js';
import { queueTask } from '../coordinator/dispatch/queue-task.js';
import { DEFAULT_TASK_LIMITS } from '../coordinator/lifecycle/index.js';
import { randomIds } from '../coordinator/tasks/index.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, decodeTask, deleteStreams, ensureStreams, natsNames, natsSchema, publishEvent, type NatsNames } from '../shared/nats/index.js';
import { createLogger } from '../shared/logging/index.js';
import { testNatsSection } from './support/storage-nats.js';

const logger = createLogger({ level: 'silent' });
const VM = '11111111-1111-4111-8111-111111111111';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dispatch over JetStream', { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let nats: { nc: NatsConnection; names: NatsNames; namespace: string };
  let dispatcher: Dispatcher;
  const limits = { ...DEFAULT_TASK_LIMITS, scan: { timeoutSeconds: 1, maxAttempts: 2 } };

  async function messagesOn(subject: string): Promise<number> {
    const info = await (await jetstreamManager(nats.nc)).streams.info(nats.names.tasksStream, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  before(async () => {
    db = await createTestDatabase();
    const namespace = `dctest-${randomBytes(4).toString('hex')}`;
    const nc = await connectNats(natsSchema.parse(testNatsSection(namespace)), 'coordinator-dispatch-test');
    nats = { nc, names: natsNames(namespace), namespace };
    await ensureStreams(nc, nats.names);
    await catalogue.addPool(db.sql, { name: 'lab' });
    await catalogue.addRemote(db.sql, { name: 'ghost' });
    await catalogue.addRemote(db.sql, { name: 'nas' });
    dispatcher = new Dispatcher({ sql: db.sql, publisher: new NatsTaskPublisher(nats.nc, nats.names), clock: () => new Date(), retryDelay: () => 200, logger });
  });
  after(async () => {
    await deleteStreams(await jetstreamManager(nats.nc), nats.names);
    await nats.nc.drain();
    await db.drop();
  });

  it('a task nobody takes times out, is retried as a new message, and fails naming the cause', async () => {
    const subject = nats.names.storageTasks('ghost');
    const task = await queueTask(db.sql, { id: randomUUID(), kind: 'scan', addressKind: 'remote', address: 'ghost', remoteName: 'ghost', vmUuid: null, payload: { removeGarbage: false, graceSeconds: 0 } }, limits, new Date());
    assert.equal(await dispatcher.runRound(), 1);
    assert.equal(await messagesOn(subject), 1);
    assert.equal(await dispatcher.republishInFlight(), 1);
    assert.equal(await messagesOn(subject), 1, 'the same attempt published again is dropped as a duplicate');
    await sleep(1100);
    await dispatcher.runRound();
    let t = await catalogue.getTask(db.sql, task.id);
    assert.equal(t.state, 'queued');
    assert.equal(t.errorCode, 'TASK_TIMEOUT');
    await sleep(250);
    await dispatcher.runRound();
    assert.equal((await catalogue.getTask(db.sql, task.id)).attempt, 2);
    assert.equal(await messagesOn(subject), 2, 'a retry is a new message');
    await sleep(1100);
    await dispatcher.runRound();
    t = await catalogue.getTask(db.sql, task.id);
    assert.equal(t.state, 'failed');
    assert.match(t.errorMessage ?? '', /attempt 2 did not finish within 1 s; is an agent for this task running\? .* \(gave up after 2 attempts\)/);
  });

  it('a backup waits for its remote’s registered address and goes once an operator gives it — never a heartbeat’s', async () => {
    const policy = await catalogue.insertPolicy(db.sql, randomUUID(), {
      name: 'p', selection: { vmUuids: [VM], tags: [], pools: [] }, remotes: ['nas'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' },
      retention: 2, fullInterval: 0, concurrency: 1, purgeSnapshotData: false, enabled: true,
    }, new Date());
    // As the scheduler writes a backup task (scheduler/record-run.ts): the policy's purge setting in the payload.
    const payload = { policyId: policy.id, policyName: 'p', retention: 2, purgeSnapshotData: policy.purgeSnapshotData, backupId: '20240101T000000Z-aa', vmName: 'web', forceFull: false };
    const task = await queueTask(db.sql, { id: randomUUID(), kind: 'backup', addressKind: 'pool', address: 'lab', remoteName: 'nas', vmUuid: VM, payload }, DEFAULT_TASK_LIMITS, new Date());
    await dispatcher.runRound();
    let t = await catalogue.getTask(db.sql, task.id);
    assert.equal(t.state, 'queued');
    assert.equal(t.errorCode, 'NO_STORAGE_ADDRESS');
    assert.match(t.errorMessage ?? '', /remote nas has no registered address: run `deltachain remote edit nas --address HOST:PORT`/);
    await catalogue.recordHeartbeat(db.sql, { id: 'st', role: 'storage', target: 'nas', version: '1', address: '127.0.0.1:50999', runningTasks: 0, concurrency: 1, startedAt: null, at: new Date() });
    await sleep(250);
    await dispatcher.runRound();
    assert.equal((await catalogue.getTask(db.sql, task.id)).errorCode, 'NO_STORAGE_ADDRESS', 'a heartbeat\'s address is never used');
    await catalogue.editRemote(db.sql, 'nas', { address: '127.0.0.1:7' });
    await sleep(250);
    await dispatcher.runRound();
    t = await catalogue.getTask(db.sql, task.id);
    assert.equal(t.state, 'dispatched');
    assert.equal(t.attempt, 3);
    assert.ok(t.kind === 'backup');
    assert.deepEqual(t.payload.plan, {}, 'no reference yet: every disk goes full');
    assert.equal(t.payload.storageAddress, '127.0.0.1:7');
    const published = await (await jetstreamManager(nats.nc)).streams.getMessage(nats.names.tasksStream, { last_by_subj: nats.names.hostTasks('lab') });
    const sent = decodeTask(published!.data);
    assert.ok(sent.payload?.$case === 'backup');
    assert.equal(sent.payload.value.purgeSnapshotData, false, "the published task carries the policy's purgeSnapshotData: false");
  });

  it('a publish that fails queues the task again, with its cause shown, without counting the attempt', async () => {
    const closed = await connectNats(natsSchema.parse(testNatsSection(nats.namespace)), 'closed');
    await closed.close();
    const broken = new Dispatcher({ sql: db.sql, publisher: new NatsTaskPublisher(closed, nats.names), clock: () => new Date(), retryDelay: () => 60_000, logger });
    const task = await queueTask(db.sql, { id: randomUUID(), kind: 'verify', addressKind: 'remote', address: 'nas', remoteName: 'nas', vmUuid: randomUUID(), payload: { backupId: 'b' } }, DEFAULT_TASK_LIMITS, new Date());
    await broken.runRound();
    const t = await catalogue.getTask(db.sql, task.id);
    assert.equal(t.state, 'queued');
    assert.equal(t.errorCode, 'DISPATCH_FAILED');
    assert.equal(t.maxAttempts, DEFAULT_TASK_LIMITS.verify.maxAttempts + 1, 'the unsent attempt is given back');
    assert.ok(t.notBefore.getTime() > Date.now() + 50_000, 'after the first retry delay');
  });

  it('events from agents move tasks; a malformed event is skipped', async () => {
    const [task] = await db.sql<catalogue.TaskRecord[]>`select * from tasks where kind = 'backup'`;
    const handler = new EventHandler({ sql: db.sql, clock: () => new Date(), ids: randomIds, limits: DEFAULT_TASK_LIMITS, retryDelay: () => 1000, lookup: { findBackup: async () => undefined }, logger });
    const consumer = new EventConsumer({ nc: nats.nc, names: nats.names, handleBatch: (events) => handler.handleBatch(events), logger });
    await consumer.start();
    try {
      const host1 = { role: 'host', scope: 'lab', agent: 'host-1' } as const;
      await jetstream(nats.nc).publish(nats.names.event(host1, 'progress'), Buffer.from('not protobuf at all'));
      await publishEvent(nats.nc, nats.names, host1, task!.id, { $case: 'started', value: { attempt: 3, delivery: 1 } });
      await publishEvent(nats.nc, nats.names, host1, task!.id, { $case: 'progress', value: { phase: 'export', done: 3, total: 4, unit: 'blocks' } });
      for (let i = 0; i < 100 && (await catalogue.getTask(db.sql, task!.id)).progressDone !== 3; i++) await sleep(50);
      const t = await catalogue.getTask(db.sql, task!.id);
      assert.equal(t.state, 'running');
      assert.equal(t.progressDone, 3);
      assert.equal(t.progressTotal, 4);
    } finally {
      await consumer.stop();
    }
  });
});
