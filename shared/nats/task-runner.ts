// The skeleton both agents' task runners share. A task (deltachain.tasks.v1.Task) arrives as a
// JetStream delivery and leaves as events: `started`, throttled `progress`, then one `result` —
// success with the task's output, or failure with a stable code and whether retrying helps. A
// message that does not decode is dropped (acknowledged, logged): no redelivery would make it
// decode. A task handed back to the queue at shutdown reports no result, since it runs again
// elsewhere; one whose result cannot be published is redelivered later (the consumer naks it).
// Before a task runs, it must be addressed to this agent, carry a payload this agent runs whose
// kind matches, and not have passed its deadline.
// What is a role's own — whom it serves, which payloads it runs and how, how a failure is named —
// a subclass supplies (agent/host/tasks/host-task-runner.ts, agent/storage/task-runner.ts).
import { DeltachainError, errorMessage } from '../errors.js';
import type { Logger } from '../logging/index.js';
import type { TaskProgress, TaskResult } from '../proto/gen/deltachain/tasks/v1/event.js';
import { TaskStatus } from '../proto/gen/deltachain/tasks/v1/event.js';
import type { Task, TaskKind } from '../proto/gen/deltachain/tasks/v1/task.js';
import { decodeTask, type EventBody } from './envelopes.js';
import type { TaskDelivery, TaskOutcome } from './task-consumer.js';

/** Where events go (NATS in the agents; a list in unit tests). */
export interface EventSink {
  publish(taskId: string, body: EventBody): Promise<void>;
}

export type TaskOutput = TaskResult['output'];
export type TaskPayloadCase = NonNullable<Task['payload']>['$case'];

/** Which tasks an agent takes: those addressed to it whose payload it runs. */
export interface TaskAcceptance {
  /** The target this agent answers to: a pool's id (host agents) or a remote's id (storage agents). */
  target: 'poolId' | 'remoteId';
  id: string;
  /** The payloads this agent runs and the kind each must come with. */
  kinds: Partial<Record<TaskPayloadCase, TaskKind>>;
  /** The payloads in words, for a refusal: "a host agent runs backup, restore and release tasks". */
  runs: string;
}

/** Another task carried by a task's message (AgentTaskRunner.companions). */
export interface Companion {
  taskId: string;
  attempt: number;
  /** What the role knows it by (a host agent: the remote). */
  name?: string;
}

/** A progress event without its attempt (the runner adds it). */
export type ProgressValue = Omit<TaskProgress, 'attempt'>;

/** Publishes a progress value, throttled; `force` publishes whatever the interval. */
export type ProgressPublisher = (value: ProgressValue, force: boolean) => void;

export abstract class AgentTaskRunner {
  protected readonly log: Logger;

  protected constructor(
    protected readonly events: EventSink,
    logger: Logger,
    component: string,
  ) {
    this.log = logger.child({ component });
  }

  /** Which tasks this agent takes. */
  protected abstract acceptance(): TaskAcceptance;
  /** The error a task that is not this agent's fails with. */
  protected abstract refusal(message: string): Error;
  /** The code of a failure that is not a DeltachainError (which names its own). */
  protected abstract readonly failureCode: string;
  /** Runs an accepted task; `keepAlive` extends the ack while it works. */
  protected abstract execute(task: Task, keepAlive: () => void): Promise<TaskOutput>;

  /** Fields of the task's log lines beside its id and kind. */
  protected logFields(_task: Task): Record<string, unknown> {
    return {};
  }

  /**
   * Other tasks this message carries, run by the same work (a backup to several remotes from one
   * export): each gets its own `started` and `result` events, with its own attempt.
   */
  protected companions(_task: Task): Companion[] {
    return [];
  }

  /** A companion's result, from the run's; default: the same. */
  protected companionResult(_task: Task, _companion: Companion, result: TaskResult): TaskResult {
    return result;
  }

  /** Called when a delivery's events are out (or it was handed back): what the run kept for them can go. */
  protected finished(_task: Task): void {}

  /** The error to report for `error` (a role may name what it means, e.g. a full remote). */
  protected explain(_task: Task, error: unknown): Promise<unknown> {
    return Promise.resolve(error);
  }

  /** The JetStream handler: decode, run, report. */
  async handle(delivery: TaskDelivery): Promise<TaskOutcome> {
    let task: Task;
    try {
      task = decodeTask(delivery.data);
    } catch (error) {
      this.log.error({ err: error, subject: delivery.subject }, 'undecodable task dropped');
      return 'ack';
    }
    const companions = this.companions(task);
    await this.events.publish(task.taskId, { $case: 'started', value: { attempt: task.attempt, delivery: delivery.deliveryCount } });
    for (const c of companions) await this.events.publish(c.taskId, { $case: 'started', value: { attempt: c.attempt, delivery: delivery.deliveryCount } });
    const result = await this.run(task, delivery.working);
    try {
      // Handed back to the queue at shutdown: it runs again elsewhere, so this run reports nothing.
      if (delivery.signal?.aborted) return { redeliverAfterMs: 0 };
      for (const c of companions) await this.events.publish(c.taskId, { $case: 'result', value: { ...this.companionResult(task, c, result), attempt: c.attempt } });
      await this.events.publish(task.taskId, { $case: 'result', value: { ...result, attempt: task.attempt } });
      return 'ack';
    } finally {
      this.finished(task);
    }
  }

  /** Runs one task; never throws (failures become a FAILED result). */
  async run(task: Task, keepAlive: () => void = () => undefined): Promise<TaskResult> {
    const started = Date.now();
    const log = this.log.child({ taskId: task.taskId, kind: task.payload?.$case, ...this.logFields(task) });
    try {
      this.check(task);
      const output = await this.execute(task, keepAlive);
      log.info({ ms: Date.now() - started }, 'task succeeded');
      return { status: TaskStatus.TASK_STATUS_SUCCEEDED, error: undefined, durationMs: Date.now() - started, output };
    } catch (thrown) {
      const error = await this.explain(task, thrown);
      const known = error instanceof DeltachainError ? error : undefined;
      const code = known?.code ?? this.failureCode;
      const retryable = known?.retryable ?? true;
      log.warn({ code, err: error }, 'task failed');
      return {
        status: TaskStatus.TASK_STATUS_FAILED,
        error: { code, message: errorMessage(error), retryable, side: known?.side ?? '' },
        durationMs: Date.now() - started,
        output: undefined,
      };
    }
  }

  /**
   * Progress events of one task: each extends the ack and is published with the task's attempt,
   * at most one per `intervalMs` unless forced. A progress event that cannot be published is
   * logged and the task goes on.
   */
  protected progressPublisher(task: Task, keepAlive: () => void, intervalMs: number): ProgressPublisher {
    const { taskId } = task;
    let last = -Infinity;
    return (value, force) => {
      const now = Date.now();
      if (!force && now - last < intervalMs) return;
      last = now;
      keepAlive();
      this.events.publish(taskId, { $case: 'progress', value: { ...value, attempt: task.attempt } }).catch((error: unknown) => {
        this.log.warn({ err: error, taskId }, 'progress event not published');
      });
    };
  }

  private check(task: Task): void {
    const { target, id, kinds, runs } = this.acceptance();
    const addressee = task.target?.agent;
    if (addressee?.$case !== target || addressee.value !== id) {
      const noun = target === 'poolId' ? 'pool' : 'remote';
      throw this.refusal(`task ${task.taskId} is addressed to ${addressee ? `${addressee.$case} ${addressee.value}` : 'no one'}, not ${noun} ${id}`);
    }
    const payload = task.payload;
    const expected = payload === undefined ? undefined : kinds[payload.$case];
    if (expected === undefined) throw this.refusal(`task ${task.taskId}: ${runs}, not ${payload?.$case ?? 'an empty one'}`);
    if (task.kind !== expected) throw this.refusal(`task ${task.taskId}: kind ${task.kind} does not match its ${payload!.$case} payload`);
    if (task.deadlineMs > 0 && Date.now() > task.deadlineMs) throw this.refusal(`task ${task.taskId}: its deadline passed before it started`);
  }
}
