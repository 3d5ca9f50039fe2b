// Attempt numbers on progress and results, on real NATS and Postgres: a real storage agent
// stamps its progress and result with the task's attempt; the coordinator, with a task retried
// after a timeout (attempt 2), ignores the failure and progress of attempt 1 arriving late, and
// applies attempt 2's. A result without an attempt (an older agent) counts as the current one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as catalogue from '../coordinator/catalogue/index.js';
import { Dispatcher } from '../coordinator/dispatch/dispatcher.js';
import { EventConsumer } from '../coordinator/events/event-consumer.js';
import { EventHandler } from '../coordinator/events/event-handler.js';
import { NatsTaskPublisher } from '../coordinator/dispatch/nats-task-publisher.js';
import { queueTask } from '../coordinator/dispatch/queue-task.js';
import { DEFAULT_TASK_LIMITS } from '../coordinator/lifecycle/index.js';
import { randomIds } from '../coordinator/tasks/index.js';
import { startStorageAgent, storageAgentConfigSchema, type RunningStorageAgent } from '../agent/storage/index.js';
import { publishEvent } from '../shared/nats/index.js';
import { createLogger } from '../shared/logging/index.js';
import { TaskStatus } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';
import { resultOf, startTestNats, storageTask, testNatsSection, type TestNats } from './support/storage-nats.js';
import { testTaskKeys } from './support/task-keys.js';

const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const GHOST = { role: 'storage', scope: 'ghost', agent: 'storage-ghost' } as const;

describe('task attempts on events', { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let nats: TestNats;
  let folder: string;
  let storage: RunningStorageAgent | undefined;

  before(async () => {
    db = await createTestDatabase();
    nats = await startTestNats();
    folder = await mkdtemp(join(tmpdir(), 'dc-attempts-'));
    await catalogue.addRemote(db.sql, { name: 'ghost' });
  });
  after(async () => {
    await storage?.stop().catch(() => undefined);
    await nats?.close();
    await db?.drop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it("a storage agent stamps its result with the task's attempt", async () => {
    const config = storageAgentConfigSchema.parse({
      role: 'storage',
      agentId: 'storage-nas',
      nats: testNatsSection(nats.namespace),
      storage: { remoteId: 'nas', root: join(folder, 'nas'), listen: { host: '127.0.0.1', port: 0 }, tls: { insecure: true }, heartbeatSeconds: 60 },
      trust: { coordinatorKey: testTaskKeys().publicPath },
    });
    storage = await startStorageAgent(config, logger);
    const task = { ...storageTask('nas', { $case: 'scan', value: { removeGarbage: false, graceSeconds: 3600 } }), attempt: 3 };
    await nats.publish(task);
    const result = await resultOf(nats, task.taskId, 20_000);
    assert.equal(result.body?.$case, 'result');
    if (result.body?.$case !== 'result') return;
    assert.equal(result.body.value.status, TaskStatus.TASK_STATUS_SUCCEEDED);
    assert.equal(result.body.value.attempt, 3);
  });

  it('the coordinator ignores a late failure and progress of an older attempt, and applies the current one', async () => {
    const limits = { ...DEFAULT_TASK_LIMITS, scan: { timeoutSeconds: 1, maxAttempts: 3 } };
    const dispatcher = new Dispatcher({ sql: db.sql, publisher: new NatsTaskPublisher(nats.nc, nats.names), clock: () => new Date(), retryDelay: () => 100, logger });
    const queued = await queueTask(db.sql, { id: randomUUID(), kind: 'scan', addressKind: 'remote', address: 'ghost', remoteName: 'ghost', vmUuid: null, payload: { removeGarbage: false, graceSeconds: 0 } }, limits, new Date());
    await dispatcher.runRound();
    await sleep(1100);
    await dispatcher.runRound(); // attempt 1 timed out: queued again
    await sleep(200);
    await dispatcher.runRound();
    assert.equal((await catalogue.getTask(db.sql, queued.id)).attempt, 2);

    const handler = new EventHandler({ sql: db.sql, clock: () => new Date(), ids: randomIds, limits, retryDelay: () => 100, lookup: { findBackup: async () => undefined }, logger });
    const consumer = new EventConsumer({ nc: nats.nc, names: nats.names, handleBatch: (events) => handler.handleBatch(events), logger });
    await consumer.start();
    const id = queued.id;
    try {
      await publishEvent(nats.nc, nats.names, GHOST, id, { $case: 'started', value: { attempt: 2, delivery: 1 } });
      const failure = { code: 'OLD_ATTEMPT', message: 'attempt 1 gave up late', retryable: false, side: '' };
      await publishEvent(nats.nc, nats.names, GHOST, id, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, error: failure, durationMs: 5, output: undefined, attempt: 1 } });
      await publishEvent(nats.nc, nats.names, GHOST, id, { $case: 'progress', value: { phase: 'scan', done: 1, total: 9, unit: 'files', attempt: 1 } });
      await publishEvent(nats.nc, nats.names, GHOST, id, { $case: 'progress', value: { phase: 'scan', done: 7, total: 9, unit: 'files', attempt: 2 } });
      await waitFor('attempt 2 progress', async () => (await catalogue.getTask(db.sql, id)).progressDone === 7);
      let t = await catalogue.getTask(db.sql, id);
      assert.equal(t.state, 'running', 'the old attempt’s failure was ignored');
      assert.notEqual(t.errorCode, 'OLD_ATTEMPT');

      const current = { code: 'NOW_FAILED', message: 'attempt 2 failed', retryable: false, side: '' };
      await publishEvent(nats.nc, nats.names, GHOST, id, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, error: current, durationMs: 5, output: undefined } });
      await waitFor('the current failure', async () => (await catalogue.getTask(db.sql, id)).state === 'failed');
      t = await catalogue.getTask(db.sql, id);
      assert.equal(t.errorCode, 'NOW_FAILED', 'a result without an attempt counts as the current attempt’s');
    } finally {
      await consumer.stop();
    }
  });
});
