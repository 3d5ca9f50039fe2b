import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeltachainError } from '../errors.js';
import { createLogger } from '../logging/index.js';
import { TaskStatus } from '../proto/gen/deltachain/tasks/v1/event.js';
import { Task, TaskKind } from '../proto/gen/deltachain/tasks/v1/task.js';
import type { EventBody } from './envelopes.js';
import type { TaskDelivery } from './task-consumer.js';
import { AgentTaskRunner, type TaskAcceptance, type TaskOutput } from './task-runner.js';

class RefusedError extends DeltachainError {
  constructor(message: string) {
    super('REFUSED', message, { side: 'request' });
  }
}

/** A storage-like role: deletes only, progress in blocks, forced when done. */
class FakeRunner extends AgentTaskRunner {
  protected readonly failureCode = 'FAKE_TASK_FAILED';
  progressCalls: Array<[number, number]> = [];

  constructor(
    readonly sent: Array<{ taskId: string; body: EventBody }>,
    private readonly work: (progress: (done: number, total: number) => void) => Promise<void>,
    private readonly intervalMs = 1000,
  ) {
    super({ publish: async (taskId, body) => void sent.push({ taskId, body }) }, createLogger({ level: 'silent', pretty: false }), 'fake-tasks');
  }

  protected acceptance(): TaskAcceptance {
    return { target: 'remoteId', id: 'nas', kinds: { delete: TaskKind.TASK_KIND_DELETE }, runs: 'a fake agent runs delete tasks' };
  }

  protected refusal(message: string): Error {
    return new RefusedError(message);
  }

  protected async execute(task: Task, keepAlive: () => void): Promise<TaskOutput> {
    const publish = this.progressPublisher(task, keepAlive, this.intervalMs);
    await this.work((done, total) => publish({ phase: 'delete', done, total, unit: 'blocks' }, done >= total));
    return { $case: 'delete', value: { existed: true, removedPaths: [], keptPaths: [] } };
  }
}

function task(o: Partial<Task> = {}): Task {
  return Task.fromPartial({
    taskId: 't1',
    kind: TaskKind.TASK_KIND_DELETE,
    target: { agent: { $case: 'remoteId', value: 'nas' } },
    attempt: 2,
    payload: { $case: 'delete', value: { vmUuid: 'v', backupId: 'b' } },
    ...o,
  });
}

function delivery(data: Uint8Array, aborted = false): TaskDelivery {
  const controller = new AbortController();
  if (aborted) controller.abort();
  return { data, subject: 'tasks.x', deliveryCount: 1, working: () => undefined, signal: controller.signal };
}

describe('agent task runner skeleton', () => {
  it('runs an accepted task and reports started, then its result with the attempt', async () => {
    const sent: Array<{ taskId: string; body: EventBody }> = [];
    const runner = new FakeRunner(sent, async () => undefined);
    assert.equal(await runner.handle(delivery(Task.encode(task()).finish())), 'ack');
    assert.deepEqual(sent.map((e) => e.body.$case), ['started', 'result']);
    const result = sent[1]!.body.$case === 'result' ? sent[1]!.body.value : undefined;
    assert.equal(result?.status, TaskStatus.TASK_STATUS_SUCCEEDED);
    assert.equal(result?.attempt, 2);
    assert.deepEqual(result?.output, { $case: 'delete', value: { existed: true, removedPaths: [], keptPaths: [] } });
  });

  it('drops a message that does not decode, and reports no result for a task handed back', async () => {
    const sent: Array<{ taskId: string; body: EventBody }> = [];
    const runner = new FakeRunner(sent, async () => undefined);
    assert.equal(await runner.handle(delivery(Uint8Array.from([0xff, 0xff, 0xff]))), 'ack');
    assert.equal(sent.length, 0, 'nothing reported for an undecodable message');
    assert.deepEqual(await runner.handle(delivery(Task.encode(task()).finish(), true)), { redeliverAfterMs: 0 });
    assert.deepEqual(sent.map((e) => e.body.$case), ['started']);
  });

  const refusals: Array<[string, Partial<Task>, RegExp]> = [
    ['another remote', { target: { agent: { $case: 'remoteId', value: 'offsite' } } }, /addressed to remoteId offsite, not remote nas/],
    ['a pool', { target: { agent: { $case: 'poolId', value: 'nas' } } }, /addressed to poolId nas, not remote nas/],
    ['no one', { target: undefined }, /addressed to no one/],
    ['a payload it does not run', { payload: { $case: 'scan', value: { removeGarbage: false, graceSeconds: 0 } } }, /a fake agent runs delete tasks, not scan/],
    ['a kind that does not match', { kind: TaskKind.TASK_KIND_MERGE }, /does not match its delete payload/],
    ['a passed deadline', { deadlineMs: 1 }, /its deadline passed before it started/],
  ];
  for (const [what, change, message] of refusals) {
    it(`refuses a task for ${what} with the role's error`, async () => {
      let ran = false;
      const runner = new FakeRunner([], async () => void (ran = true));
      const result = await runner.run(task(change));
      assert.equal(ran, false);
      assert.equal(result.status, TaskStatus.TASK_STATUS_FAILED);
      assert.equal(result.error?.code, 'REFUSED');
      assert.equal(result.error?.side, 'request');
      assert.match(result.error?.message ?? '', message);
    });
  }

  it('names a failure that is not a DeltachainError with the role code, retryable', async () => {
    const runner = new FakeRunner([], async () => {
      throw new Error('disk on fire');
    });
    const result = await runner.run(task());
    assert.deepEqual(result.error, { code: 'FAKE_TASK_FAILED', message: 'disk on fire', retryable: true, side: '' });
  });

  it('throttles progress to one event per interval, except a forced one, each extending the ack', async () => {
    const sent: Array<{ taskId: string; body: EventBody }> = [];
    let keptAlive = 0;
    const runner = new FakeRunner(sent, async (progress) => {
      progress(1, 3);
      progress(2, 3);
      progress(3, 3);
    });
    await runner.run(task(), () => void keptAlive++);
    const progress = sent.filter((e) => e.body.$case === 'progress').map((e) => (e.body.$case === 'progress' ? e.body.value : undefined));
    assert.deepEqual(progress, [
      { phase: 'delete', done: 1, total: 3, unit: 'blocks', attempt: 2 },
      { phase: 'delete', done: 3, total: 3, unit: 'blocks', attempt: 2 },
    ]);
    assert.equal(keptAlive, 2);
  });
});
