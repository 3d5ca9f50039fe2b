// The coordinators' lease and its fencing token, on real Postgres, NATS and a real storage agent:
// one holder at a time on the database's clock, renewals keep the term, a takeover after expiry
// (or after the holder let go) makes a larger term; a dispatcher whose term lost the lease writes
// and publishes nothing; a late publish by a deposed coordinator (committed under its term, sent
// after a newer term reached the agent) is refused by the agent as "deposed", and the active
// coordinator dispatches that attempt again under its own term — not counted against the task.
// A coordinator whose link to the catalogue goes silent for longer than the lease steps down, and
// once the link is back takes the lease again at a new term without waiting for its own row to
// expire (the late answer of the renewal in flight is not acted on).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import * as catalogue from '../coordinator/catalogue/index.js';
import { Dispatcher } from '../coordinator/dispatch/dispatcher.js';
import { EventConsumer } from '../coordinator/events/event-consumer.js';
import { EventHandler } from '../coordinator/events/event-handler.js';
import { NatsTaskPublisher } from '../coordinator/dispatch/nats-task-publisher.js';
import { queueTask } from '../coordinator/dispatch/queue-task.js';
import { messageIdOf, signedTask } from '../coordinator/dispatch/task-envelope.js';
import { applyTaskEvent, DEFAULT_TASK_LIMITS } from '../coordinator/lifecycle/index.js';
import { randomIds } from '../coordinator/tasks/index.js';
import { startStorageAgent, storageAgentConfigSchema, type RunningStorageAgent } from '../agent/storage/index.js';
import { decodeTask, ensureTaskConsumer } from '../shared/nats/index.js';
import { TASK_SIGNATURE_HEADER } from '../shared/task-trust/index.js';
import { headers } from '@nats-io/transport-node';
import { createLogger } from '../shared/logging/index.js';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';
import { startTestNats, testNatsSection, type TestNats } from './support/storage-nats.js';
import { testTaskKeys } from './support/task-keys.js';
import { waitFor } from './support/deploy-processes.js';
import { startWanLink } from './support/wan-link.js';
import { Leadership } from '../coordinator/service/leadership.js';

const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('coordinator lease and fencing', { timeout: 90_000 }, () => {
  let db: TestDatabase;
  let nats: TestNats;
  let folder: string;
  let storage: RunningStorageAgent | undefined;
  const limits = { ...DEFAULT_TASK_LIMITS, scan: { timeoutSeconds: 60, maxAttempts: 1 } };
  const scan = () => ({ id: randomUUID(), kind: 'scan' as const, addressKind: 'remote' as const, address: 'nas', remoteName: 'nas', vmUuid: null, payload: { removeGarbage: false, graceSeconds: 3600 } });

  before(async () => {
    db = await createTestDatabase();
    nats = await startTestNats();
    folder = await mkdtemp(join(tmpdir(), 'dc-lease-'));
    await catalogue.addRemote(db.sql, { name: 'nas' });
  });
  after(async () => {
    await storage?.stop().catch(() => undefined);
    await nats?.close();
    await db?.drop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('one holder at a time: renewals keep the term, a takeover after expiry or a release makes a larger one', async () => {
    const a = await catalogue.takeLease(db.sql, 'a', 1, undefined);
    assert.ok(a.held);
    const lease = (await catalogue.readLease(db.sql))!;
    assert.ok(Math.abs(a.term - lease.now.getTime()) < 5_000, 'a first term is the database time in ms (terms keep growing across catalogues)');
    const b = await catalogue.takeLease(db.sql, 'b', 1, undefined);
    assert.deepEqual([b.held, b.held ? '' : b.holder, b.term], [false, 'a', a.term], 'b sees who holds it');
    assert.deepEqual(await catalogue.takeLease(db.sql, 'a', 1, a.term).then((r) => [r.held, r.term]), [true, a.term], 'a renewal keeps the term');
    await db.sql.begin((tx) => catalogue.fenceTerm(tx, a.term));
    // 'a' without its term (it stepped down: a renewal came too late) takes a new term at once —
    // a holder names one process — and its old term is fenced.
    const again = await catalogue.takeLease(db.sql, 'a', 1, undefined);
    assert.ok(again.held && again.term > a.term, 'the row\'s own holder, stepped down, takes a new term without waiting for the expiry');
    await assert.rejects(db.sql.begin((tx) => catalogue.fenceTerm(tx, a.term)), catalogue.LeaseLostError, 'the term it stepped down from is fenced');
    assert.equal((await catalogue.takeLease(db.sql, 'b', 1, undefined)).held, false, 'and others still wait');

    await sleep(1100);
    await assert.rejects(db.sql.begin((tx) => catalogue.fenceTerm(tx, a.term)), catalogue.LeaseLostError, 'an expired lease fences its term');
    const b2 = await catalogue.takeLease(db.sql, 'b', 30, undefined);
    assert.ok(b2.held && b2.term > again.term, 'b takes the expired lease at a larger term');
    const late = await catalogue.takeLease(db.sql, 'a', 30, again.term);
    assert.deepEqual([late.held, late.held ? '' : late.holder], [false, 'b'], "a's renewal after the expiry is refused");
    await assert.rejects(db.sql.begin((tx) => catalogue.fenceTerm(tx, a.term)), catalogue.LeaseLostError);

    assert.equal(await catalogue.leaveLease(db.sql, 'a', a.term), false, 'only the holder lets go');
    assert.equal(await catalogue.leaveLease(db.sql, 'b', b2.term), true);
    const a2 = await catalogue.takeLease(db.sql, 'a', 30, undefined);
    assert.ok(a2.held && a2.term > b2.term, 'a released lease is taken at once, at a larger term');
  });

  it('a catalogue link silent for longer than the lease: the coordinator steps down, and once the link is back takes a new term at the next try — it neither acts on the late answer nor waits for its own row to expire', async () => {
    const held = await catalogue.readLease(db.sql);
    if (held) await catalogue.leaveLease(db.sql, held.holder, held.term);
    const leaseSeconds = 6;
    let silent = false;
    const target = new URL(db.url);
    const link = await startWanLink({ host: target.hostname, port: Number(target.port || 5432) }, { delayMs: 0, bytesPerSecond: 1e9 }, { stalled: () => silent });
    const url = new URL(db.url);
    url.host = `127.0.0.1:${link.port}`;
    const sql = catalogue.connectCatalogue(url.toString(), { maxConnections: 2 });
    const changes: { at: number; what: 'elected' | 'deposed'; term: number; reason?: string }[] = [];
    const leadership = new Leadership({
      sql,
      holder: `lease-test:${randomUUID().slice(0, 8)}`,
      leaseSeconds,
      logger,
      onElected: async (term) => void changes.push({ at: Date.now(), what: 'elected', term }),
      onDeposed: async (term, reason) => void changes.push({ at: Date.now(), what: 'deposed', term, reason }),
    });
    try {
      await leadership.start();
      const first = leadership.term;
      assert.ok(first !== undefined, 'active with the catalogue reachable');
      silent = true;
      await waitFor('the coordinator to step down while the catalogue is silent', () => leadership.term === undefined, 2 * leaseSeconds * 1000);
      await sleep(3000); // a renewal is in flight, unanswered, well past the lease's length
      silent = false;
      const back = Date.now();
      const next = await waitFor('a new term after the link is back', () => leadership.term, 3 * leaseSeconds * 1000);
      const after = Date.now() - back;
      assert.ok(next > first, 'a larger term');
      assert.ok(after < leaseSeconds * 1000, `taken again ${after} ms after the link was back: at the next try, not after its own row expired (${leaseSeconds} s)`);
      await sleep(1500);
      assert.deepEqual(changes.map((c) => [c.what, c.term]), [['elected', first], ['deposed', first], ['elected', next]], `one step down and one election, none acted on the late answer: ${JSON.stringify(changes)}`);
      assert.equal(leadership.term, next, 'still active');
      // A service of the old term, still stopping, finds its term fenced: the new term stays.
      leadership.lost(first, `the lease (term ${first}) is no longer held`);
      assert.equal(leadership.term, next, 'the old term\'s late LeaseLostError does not depose the new term');
    } finally {
      await leadership.stop();
      await sql.end({ timeout: 5 });
      await link.close();
    }
  });

  it("a dispatcher whose term lost the lease writes and publishes nothing; the holder's records and sends its term", async () => {
    const held = (await catalogue.readLease(db.sql))!;
    await catalogue.leaveLease(db.sql, held.holder, held.term);
    const old = await catalogue.takeLease(db.sql, 'old', 1, undefined);
    assert.ok(old.held);
    await sleep(1100);
    const current = await catalogue.takeLease(db.sql, 'new', 60, undefined);
    assert.ok(current.held);
    await ensureTaskConsumer(await jetstreamManager(nats.nc), nats.names, 'storage', 'nas', { ackWaitSeconds: 30, maxDeliver: 5 });
    const lost: unknown[] = [];
    const deposed = new Dispatcher({ sql: db.sql, publisher: new NatsTaskPublisher(nats.nc, nats.names), clock: () => new Date(), retryDelay: () => 100, logger, term: old.term, onLeaseLost: (e) => lost.push(e) });
    const task = await queueTask(db.sql, scan(), limits, new Date());
    await assert.rejects(deposed.runRound(), catalogue.LeaseLostError);
    const untouched = await catalogue.getTask(db.sql, task.id);
    assert.deepEqual([untouched.state, untouched.attempt, untouched.dispatchTerm], ['queued', 0, null]);
    const subject = nats.names.storageTasks('nas');
    const stored = async () => (await (await jetstreamManager(nats.nc)).streams.info(nats.names.tasksStream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
    assert.equal(await stored(), 0, 'nothing published');

    const active = new Dispatcher({ sql: db.sql, publisher: new NatsTaskPublisher(nats.nc, nats.names), clock: () => new Date(), retryDelay: () => 100, logger, term: current.term });
    assert.equal(await active.runRound(), 1);
    const sent = await catalogue.getTask(db.sql, task.id);
    assert.deepEqual([sent.state, sent.attempt, sent.dispatchTerm], ['dispatched', 1, current.term]);
    const consumer = await jetstream(nats.nc).consumers.get(nats.names.tasksStream, nats.names.consumerOf('storage', 'nas'));
    const message = await consumer.next({ expires: 5000 });
    assert.ok(message, 'the task was published');
    assert.equal(decodeTask(message.data).leaderTerm, current.term, 'the task carries the term');
    message.ack();
    await catalogue.withTaskLocked(db.sql, task.id, async (t) => ({ save: applyTaskEvent(t, { type: 'cancel', at: new Date(), reason: 'test done' }, () => 0).task, value: undefined }));
  });

  it("a deposed coordinator's late publish is refused by the agent that saw a newer term, and dispatched again under the new term, not counted", async () => {
    const signer = testTaskKeys().signer;
    const config = storageAgentConfigSchema.parse({
      role: 'storage', agentId: 'storage-nas', nats: testNatsSection(nats.namespace),
      storage: { remoteId: 'nas', root: join(folder, 'nas'), listen: { host: '127.0.0.1', port: 0 }, tls: { insecure: true }, heartbeatSeconds: 60 },
      trust: { coordinatorKey: testTaskKeys().publicPath },
    });
    storage = await startStorageAgent(config, logger);
    // Coordinator "old" holds the lease and commits a dispatch of task X under its term...
    const held = (await catalogue.readLease(db.sql))!;
    await catalogue.leaveLease(db.sql, held.holder, held.term);
    const old = await catalogue.takeLease(db.sql, 'old', 1, undefined);
    assert.ok(old.held);
    const x = await queueTask(db.sql, scan(), limits, new Date());
    const [locked] = await catalogue.lockTasks(db.sql, [x.id]);
    const dispatched = applyTaskEvent(locked!, { type: 'dispatch', at: new Date() }, () => 0).task;
    await db.sql.begin(async (tx) => {
      await catalogue.fenceTerm(tx, old.term);
      await catalogue.saveTasks(tx, [{ id: x.id, lifecycle: dispatched, term: old.term }]);
    });
    // ...and stalls before publishing it. Its lease expires; "new" takes over and runs the active part.
    await sleep(1100);
    const current = await catalogue.takeLease(db.sql, 'new', 60, undefined);
    assert.ok(current.held);
    const dispatcher = new Dispatcher({ sql: db.sql, publisher: new NatsTaskPublisher(nats.nc, nats.names), clock: () => new Date(), retryDelay: () => 100, logger, term: current.term, signer });
    const handler = new EventHandler({ sql: db.sql, clock: () => new Date(), ids: randomIds, limits, retryDelay: () => 100, lookup: { findBackup: async () => undefined }, logger, term: current.term, onQueued: () => dispatcher.wake() });
    const consumer = new EventConsumer({ nc: nats.nc, names: nats.names, logger, handleBatch: (events) => handler.handleBatch(events) });
    await consumer.start();
    dispatcher.start();
    try {
      // Y: any task of the new term the agent takes (a delete of a backup it never had).
      const y = await queueTask(db.sql, { id: randomUUID(), kind: 'delete', addressKind: 'remote', address: 'nas', remoteName: 'nas', vmUuid: randomUUID(), payload: { backupId: '20261205T000000Z-abcd', policyId: null } }, limits, new Date());
      dispatcher.wake();
      await nats.waitForEvent((e) => e.taskId === y.id && e.body?.$case === 'result', 20_000, 'the result of Y (new term) from the agent');
      // The old coordinator wakes up and publishes X, signed with the coordinators' key.
      const record = await catalogue.getTask(db.sql, x.id);
      const { data, signature } = signedTask(record, signer);
      const h = headers();
      h.set(TASK_SIGNATURE_HEADER, signature!);
      await jetstream(nats.nc).publish(nats.names.storageTasks('nas'), data, { msgID: messageIdOf(record), headers: h });
      const refusal = await nats.waitForEvent((e) => e.taskId === x.id && e.body?.$case === 'refused', 20_000, 'the refusal of X');
      assert.equal(refusal.body?.$case === 'refused' && refusal.body.value.code, 'deposed');
      const done = await waitFor('X dispatched again and done', async () => {
        const t = await catalogue.getTask(db.sql, x.id);
        return t.state === 'succeeded' || t.state === 'failed' ? t : undefined;
      });
      assert.equal(done.state, 'succeeded', `${done.errorCode}: ${done.errorMessage}`);
      assert.deepEqual([done.attempt, done.maxAttempts, done.dispatchTerm], [2, 2, current.term], 'attempt 2 under the new term; the refused attempt was given back (max 1 → 2)');
      const results = nats.events.filter((e) => e.taskId === x.id && e.body?.$case === 'result');
      assert.deepEqual(results.map((e) => e.body?.$case === 'result' && e.body.value.attempt), [2], 'the agent ran X once, at attempt 2');
    } finally {
      await dispatcher.stop();
      await consumer.stop();
    }
  });

  it("a 'deposed' refusal the catalogue does not agree with changes nothing: another agent's, another term, another attempt, a started task", async () => {
    const lease = (await catalogue.readLease(db.sql))!;
    const dispatcher = new Dispatcher({ sql: db.sql, publisher: new NatsTaskPublisher(nats.nc, nats.names), clock: () => new Date(), retryDelay: () => 100, logger, term: lease.term });
    const handler = new EventHandler({ sql: db.sql, clock: () => new Date(), ids: randomIds, limits, retryDelay: () => 100, lookup: { findBackup: async () => undefined }, logger, term: lease.term + 10 });
    await storage?.stop();
    storage = undefined;
    const z = await queueTask(db.sql, { id: randomUUID(), kind: 'delete', addressKind: 'remote', address: 'nas', remoteName: 'nas', vmUuid: randomUUID(), payload: { backupId: '20261205T000000Z-zzzz', policyId: null } }, limits, new Date());
    await dispatcher.runRound();
    const sent = await catalogue.getTask(db.sql, z.id);
    assert.deepEqual([sent.state, sent.dispatchTerm], ['dispatched', lease.term]);
    const refusal = (over: object) => ({ eventId: randomUUID(), at: new Date(), type: 'refused', claimedTaskId: z.id, reason: 'forged', subject: 's', code: 'deposed', attempt: sent.attempt, leaderTerm: lease.term, sender: { role: 'storage', scope: 'nas', agent: 'storage-nas' }, ...over }) as never;
    for (const forged of [
      refusal({ sender: { role: 'storage', scope: 'other', agent: 'storage-other' } }),
      refusal({ sender: { role: 'host', scope: 'nas', agent: 'host-nas' } }),
      refusal({ leaderTerm: lease.term - 1 }),
      refusal({ attempt: sent.attempt + 1 }),
      refusal({ claimedTaskId: randomUUID() }),
    ]) await handler.handle(forged);
    const after = await catalogue.getTask(db.sql, z.id);
    assert.deepEqual([after.state, after.attempt, after.maxAttempts], [sent.state, sent.attempt, sent.maxAttempts], 'nothing changed');
    await db.sql`update tasks set state = 'running', started_at = now() where id = ${z.id}`;
    await handler.handle(refusal({}));
    assert.equal((await catalogue.getTask(db.sql, z.id)).state, 'running', 'a task that started ran: not dispatched again');
  });
});
