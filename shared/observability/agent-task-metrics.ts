// An agent's task metrics, recorded by wrapping the two interfaces its task runner already has —
// the JetStream handler and the event sink — so the runner itself knows nothing of metrics:
//   * the handler wrapper counts running tasks by kind, and a task handed back to the queue at
//     shutdown (its delivery's signal aborted);
//   * the sink wrapper reads each `result` event on its way out: outcome, duration, and the
//     per-disk transfers or merge time (task-result-measures.ts).
import { decodeTask, type EventBody, type TaskDelivery, type TaskOutcome } from '../nats/index.js';
import { measureTaskResult } from './task-result-measures.js';
import type { TaskMetrics } from './task-metrics.js';
import type { TransferMetrics } from './transfer-metrics.js';

/** Where an agent's events go (both task runners' sinks have this shape). */
export interface TaskEventSink {
  publish(taskId: string, body: EventBody): Promise<void>;
}

export type TaskHandler = (delivery: TaskDelivery) => Promise<TaskOutcome>;

export class AgentTaskMetrics {
  readonly #tasks: TaskMetrics;
  readonly #transfers: TransferMetrics;
  /** Kinds of the tasks running now, by task id (a result names its kind only on success). */
  readonly #kinds = new Map<string, string>();

  constructor(tasks: TaskMetrics, transfers: TransferMetrics) {
    this.#tasks = tasks;
    this.#transfers = transfers;
  }

  handler(inner: TaskHandler): TaskHandler {
    return async (delivery) => {
      const { taskId, kind } = identify(delivery.data);
      const running = { kind, state: 'running' };
      if (taskId) this.#kinds.set(taskId, kind);
      this.#tasks.tasks.inc(running);
      try {
        return await inner(delivery);
      } finally {
        this.#tasks.tasks.dec(running);
        if (taskId) this.#kinds.delete(taskId);
        if (delivery.signal?.aborted) this.#tasks.finishedTask(kind, 'handed_back');
      }
    };
  }

  events(inner: TaskEventSink): TaskEventSink {
    return {
      publish: async (taskId, body) => {
        await inner.publish(taskId, body);
        if (body.$case === 'result') this.#recordResult(taskId, body.value);
      },
    };
  }

  #recordResult(taskId: string, result: Parameters<typeof measureTaskResult>[0]): void {
    const m = measureTaskResult(result);
    this.#tasks.finishedTask(this.#kinds.get(taskId) ?? m.kind ?? 'unknown', m.outcome, m.seconds);
    for (const t of m.transfers) this.#transfers.transfer(t.operation, t.mode, t.bytes, t.seconds);
    if (m.mergeSeconds !== undefined) this.#transfers.merge(m.mergeSeconds);
  }
}

function identify(data: Uint8Array): { taskId: string; kind: string } {
  try {
    const task = decodeTask(data);
    return { taskId: task.taskId, kind: task.payload?.$case ?? 'unknown' };
  } catch {
    return { taskId: '', kind: 'undecodable' };
  }
}
