import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Task, TaskKind } from '../proto/gen/deltachain/tasks/v1/task.js';
import { TaskStatus } from '../proto/gen/deltachain/tasks/v1/event.js';
import type { EventBody, TaskDelivery } from '../nats/index.js';
import { AgentTaskMetrics } from './agent-task-metrics.js';
import { METRIC } from './metric-names.js';
import { TaskMetrics } from './task-metrics.js';
import { TransferMetrics } from './transfer-metrics.js';

function mergeDelivery(taskId: string, signal?: AbortSignal): TaskDelivery {
  const task: Task = {
    taskId, kind: TaskKind.TASK_KIND_MERGE, target: { agent: { $case: 'remoteId', value: 'r' } }, attempt: 1, createdAtMs: 0, deadlineMs: 0, expiresAtMs: 0, signedAtMs: 0, runId: '', leaderTerm: 0,
    payload: { $case: 'merge', value: { vmUuid: randomUUID(), backupId: 'b' } },
  };
  return { data: Task.encode(task).finish(), subject: 's', deliveryCount: 1, working: () => undefined, ...(signal ? { signal } : {}) };
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  const values = (await metric!.get()).values;
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe('AgentTaskMetrics', () => {
  it('counts a running task by kind, then its result: outcome, duration, merge time', async () => {
    const registry = new Registry();
    const metrics = new AgentTaskMetrics(new TaskMetrics(registry), new TransferMetrics(registry));
    const published: EventBody[] = [];
    const sink = metrics.events({ publish: async (_id: string, body: EventBody) => void published.push(body) });
    const taskId = randomUUID();
    let runningDuring: number | undefined;
    const handler = metrics.handler(async () => {
      runningDuring = await value(registry, METRIC.tasks, { kind: 'merge', state: 'running' });
      await sink.publish(taskId, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 2500, output: { $case: 'merge', value: { disks: [{ diskKey: 'd', path: 'p', blocksMerged: 1, resumed: false, merged: true, fileSize: 0 }], retiredBackupIds: [] } } } });
      return 'ack';
    });
    assert.equal(await handler(mergeDelivery(taskId)), 'ack');
    assert.equal(runningDuring, 1);
    assert.equal(published.length, 1, 'the event still goes out');
    assert.equal(await value(registry, METRIC.tasks, { kind: 'merge', state: 'running' }), 0);
    assert.equal(await value(registry, METRIC.tasksFinished, { kind: 'merge', outcome: 'succeeded' }), 1);
    const text = await registry.metrics();
    assert.match(text, /deltachain_merge_duration_seconds_count 1/);
    assert.match(text, /deltachain_merge_duration_seconds_sum 2.5/);
    assert.match(text, /deltachain_task_duration_seconds_count\{kind="merge"\} 1/);
  });

  it('a failure is counted under the kind of the task that ran (failures carry no output)', async () => {
    const registry = new Registry();
    const metrics = new AgentTaskMetrics(new TaskMetrics(registry), new TransferMetrics(registry));
    const sink = metrics.events({ publish: async () => undefined });
    const taskId = randomUUID();
    await metrics.handler(async () => {
      await sink.publish(taskId, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, error: { code: 'X', message: 'm', retryable: true, side: '' }, durationMs: 5, output: undefined } });
      return 'ack';
    })(mergeDelivery(taskId));
    assert.equal(await value(registry, METRIC.tasksFinished, { kind: 'merge', outcome: 'failed' }), 1);
  });

  it('a task handed back at shutdown counts as handed_back, with no result', async () => {
    const registry = new Registry();
    const metrics = new AgentTaskMetrics(new TaskMetrics(registry), new TransferMetrics(registry));
    const controller = new AbortController();
    const outcome = await metrics.handler(async () => {
      controller.abort();
      return { redeliverAfterMs: 0 };
    })(mergeDelivery(randomUUID(), controller.signal));
    assert.deepEqual(outcome, { redeliverAfterMs: 0 });
    assert.equal(await value(registry, METRIC.tasksFinished, { kind: 'merge', outcome: 'handed_back' }), 1);
    assert.equal(await value(registry, METRIC.tasks, { kind: 'merge', state: 'running' }), 0);
  });

  it('a handler that throws still leaves the running gauge at zero', async () => {
    const registry = new Registry();
    const metrics = new AgentTaskMetrics(new TaskMetrics(registry), new TransferMetrics(registry));
    await assert.rejects(metrics.handler(async () => {
      throw new Error('boom');
    })(mergeDelivery(randomUUID())), /boom/);
    assert.equal(await value(registry, METRIC.tasks, { kind: 'merge', state: 'running' }), 0);
  });
});
