// The task state machine as pure transitions: (task, event, clock values) → the task after.
//
//   queued ──dispatch──▶ dispatched ──started/progress──▶ running ──result ok──▶ succeeded
//     ▲                     │  │                            │
//     └──── retryable failure or timeout, attempts left ◀───┘──── otherwise ──▶ failed
//   queued | dispatched | running ──cancel──▶ cancelled
//   dispatched ──superseded──▶ queued (at once, the attempt not counted: an agent refused it
//                              because the coordinator that sent it had been deposed)
//   dispatched ──unsent──▶ queued (after the first retry delay, the attempt not counted: NATS did
//                          not take the message, so no agent can have it; it waits however long
//                          NATS is away)
//
// Events come from agents at least once and possibly late, so every transition is idempotent:
// a duplicate changes nothing; start, progress and failure of an attempt other than the current
// one are ignored; a success is accepted from any attempt and even after the task was given up
// (the work is done — a committed backup exists and must be recorded).

import type { FailureSide } from '../../shared/errors.js';

export type TaskState = 'queued' | 'dispatched' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'cancelled']);
export const ACTIVE_TASK_STATES: ReadonlySet<TaskState> = new Set(['queued', 'dispatched', 'running']);

/** The fields of a task the lifecycle reads and writes. */
export interface TaskLifecycle {
  state: TaskState;
  attempt: number;
  maxAttempts: number;
  timeoutSeconds: number;
  notBefore: Date;
  deadlineAt: Date | null;
  dispatchedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  lastEventAt: Date | null;
  progressDone: number | null;
  progressTotal: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** Which side the last failure was on (FailureSide: pool, storage, network, remote-full, data,
   * request); null when unknown or after a success. Absent = null. */
  errorSide?: FailureSide | null;
  result: unknown;
}

export interface TaskFailure {
  code: string;
  message: string;
  retryable: boolean;
  /** The side the agent named, when it named one. */
  side?: FailureSide;
}

export type TaskEvent =
  | { type: 'dispatch'; at: Date }
  | { type: 'started'; at: Date; attempt: number }
  | { type: 'progress'; at: Date; attempt: number; done: number; total: number }
  | { type: 'succeeded'; at: Date; attempt: number; result: unknown }
  | { type: 'failed'; at: Date; attempt: number; error: TaskFailure }
  | { type: 'timeout'; at: Date }
  /** An agent refused this attempt unrun: its coordinator's lease term was older than one it had seen. */
  | { type: 'superseded'; at: Date; attempt: number }
  /** Publishing this attempt failed (NATS unreachable, no JetStream quorum): no agent has it. */
  | { type: 'unsent'; at: Date; attempt: number; error: TaskFailure }
  | { type: 'cancel'; at: Date; reason: string };

export interface Transition {
  task: TaskLifecycle;
  changed: boolean;
  /** What happened, for logs and the run: a retry was scheduled, the task ended. */
  outcome?: 'dispatched' | 'retry-scheduled' | 'succeeded' | 'failed' | 'cancelled';
}

/** Milliseconds to wait after the attempt `attempt` failed. */
export type RetryDelay = (attempt: number) => number;

const unchanged = (task: TaskLifecycle): Transition => ({ task, changed: false });

export function applyTaskEvent(task: TaskLifecycle, event: TaskEvent, retryDelay: RetryDelay): Transition {
  switch (event.type) {
    case 'dispatch':
      return dispatch(task, event.at);
    case 'started':
    case 'progress':
      return observe(task, event);
    case 'succeeded':
      return succeed(task, event.at, event.result);
    case 'failed':
      if (event.attempt !== task.attempt || !isInFlight(task)) return unchanged(task);
      return fail(task, event.at, event.error, retryDelay);
    case 'timeout':
      if (!isInFlight(task) || task.deadlineAt === null || task.deadlineAt > event.at) return unchanged(task);
      return fail(task, event.at, timeoutFailure(task), retryDelay);
    case 'superseded':
      if (event.attempt !== task.attempt || task.state !== 'dispatched') return unchanged(task);
      return supersede(task, event.at);
    case 'unsent': {
      if (event.attempt !== task.attempt || task.state !== 'dispatched') return unchanged(task);
      const waiting = supersede(task, new Date(event.at.getTime() + retryDelay(1))).task;
      return { task: { ...waiting, lastEventAt: event.at, errorCode: event.error.code, errorMessage: event.error.message, errorSide: event.error.side ?? null }, changed: true, outcome: 'retry-scheduled' };
    }
    case 'cancel':
      if (TERMINAL_TASK_STATES.has(task.state)) return unchanged(task);
      return {
        task: { ...task, state: 'cancelled', finishedAt: event.at, errorCode: 'CANCELLED', errorMessage: event.reason, errorSide: null },
        changed: true,
        outcome: 'cancelled',
      };
  }
}

function isInFlight(task: TaskLifecycle): boolean {
  return task.state === 'dispatched' || task.state === 'running';
}

function dispatch(task: TaskLifecycle, at: Date): Transition {
  if (task.state !== 'queued' || task.notBefore > at) return unchanged(task);
  const next: TaskLifecycle = {
    ...task,
    state: 'dispatched',
    attempt: task.attempt + 1,
    dispatchedAt: at,
    deadlineAt: new Date(at.getTime() + task.timeoutSeconds * 1000),
    progressDone: null,
    progressTotal: null,
  };
  return { task: next, changed: true, outcome: 'dispatched' };
}

function observe(task: TaskLifecycle, event: Extract<TaskEvent, { type: 'started' | 'progress' }>): Transition {
  if (event.attempt !== task.attempt || !isInFlight(task)) return unchanged(task);
  const next: TaskLifecycle = {
    ...task,
    state: 'running',
    startedAt: task.startedAt ?? event.at,
    lastEventAt: task.lastEventAt !== null && task.lastEventAt >= event.at ? task.lastEventAt : event.at,
  };
  if (event.type === 'progress') {
    next.progressDone = event.done;
    next.progressTotal = event.total;
  }
  const changed =
    next.state !== task.state ||
    next.startedAt !== task.startedAt ||
    next.lastEventAt !== task.lastEventAt ||
    next.progressDone !== task.progressDone ||
    next.progressTotal !== task.progressTotal;
  return changed ? { task: next, changed } : unchanged(task);
}

function succeed(task: TaskLifecycle, at: Date, result: unknown): Transition {
  if (task.state === 'succeeded') return unchanged(task);
  const next: TaskLifecycle = {
    ...task,
    state: 'succeeded',
    startedAt: task.startedAt ?? at,
    finishedAt: at,
    lastEventAt: at,
    errorCode: null,
    errorMessage: null,
    errorSide: null,
    result,
  };
  return { task: next, changed: true, outcome: 'succeeded' };
}

function fail(task: TaskLifecycle, at: Date, error: TaskFailure, retryDelay: RetryDelay): Transition {
  const base = { ...task, lastEventAt: at, errorCode: error.code, errorMessage: error.message, errorSide: error.side ?? null };
  if (error.retryable && task.attempt < task.maxAttempts) {
    const notBefore = new Date(at.getTime() + retryDelay(task.attempt));
    const next: TaskLifecycle = { ...base, state: 'queued', notBefore, deadlineAt: null };
    return { task: next, changed: true, outcome: 'retry-scheduled' };
  }
  const message = error.retryable
    ? `${error.message} (gave up after ${task.attempt} attempt${task.attempt === 1 ? '' : 's'})`
    : error.message;
  return { task: { ...base, errorMessage: message, state: 'failed', finishedAt: at }, changed: true, outcome: 'failed' };
}

/** Dispatched again at once under the current term; the refused attempt (it never ran) is not counted. */
function supersede(task: TaskLifecycle, at: Date): Transition {
  const next: TaskLifecycle = { ...task, state: 'queued', notBefore: at, deadlineAt: null, maxAttempts: task.maxAttempts + 1, lastEventAt: at };
  return { task: next, changed: true, outcome: 'retry-scheduled' };
}

function timeoutFailure(task: TaskLifecycle): TaskFailure {
  return {
    code: 'TASK_TIMEOUT',
    message: `attempt ${task.attempt} did not finish within ${task.timeoutSeconds} s; is an agent for this task running? (see \`deltachain agent list\`)`,
    retryable: true,
  };
}
