import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyTaskEvent, type TaskEvent, type TaskLifecycle } from './task-lifecycle.js';

const t0 = new Date('2024-05-01T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const delay = (attempt: number) => attempt * 60_000;

function task(overrides: Partial<TaskLifecycle> = {}): TaskLifecycle {
  return {
    state: 'queued',
    attempt: 0,
    maxAttempts: 3,
    timeoutSeconds: 600,
    notBefore: t0,
    deadlineAt: null,
    dispatchedAt: null,
    startedAt: null,
    finishedAt: null,
    lastEventAt: null,
    progressDone: null,
    progressTotal: null,
    errorCode: null,
    errorMessage: null,
    result: null,
    ...overrides,
  };
}

function run(start: TaskLifecycle, events: TaskEvent[]): TaskLifecycle {
  return events.reduce((t, e) => applyTaskEvent(t, e, delay).task, start);
}

const dispatched = (attempt = 1) =>
  task({ state: 'dispatched', attempt, dispatchedAt: t0, deadlineAt: at(600) });
const err = (retryable: boolean) => ({ code: 'X', message: 'boom', retryable });

describe('applyTaskEvent', () => {
  it('dispatch counts the attempt and sets the deadline from the timeout', () => {
    const { task: next, outcome } = applyTaskEvent(task(), { type: 'dispatch', at: at(5) }, delay);
    assert.equal(outcome, 'dispatched');
    assert.equal(next.state, 'dispatched');
    assert.equal(next.attempt, 1);
    assert.deepEqual(next.deadlineAt, at(605));
  });

  it('does not dispatch before not_before or twice', () => {
    assert.equal(applyTaskEvent(task({ notBefore: at(10) }), { type: 'dispatch', at: at(5) }, delay).changed, false);
    assert.equal(applyTaskEvent(dispatched(), { type: 'dispatch', at: at(5) }, delay).changed, false);
  });

  const table: { name: string; start: TaskLifecycle; events: TaskEvent[]; expect: Partial<TaskLifecycle> }[] = [
    {
      name: 'started then progress makes it running with progress',
      start: dispatched(),
      events: [
        { type: 'started', at: at(1), attempt: 1 },
        { type: 'progress', at: at(2), attempt: 1, done: 5, total: 10 },
      ],
      expect: { state: 'running', startedAt: at(1), progressDone: 5, progressTotal: 10, lastEventAt: at(2) },
    },
    {
      name: 'success ends it and clears an earlier error',
      start: dispatched(2),
      events: [{ type: 'succeeded', at: at(9), attempt: 2, result: { ok: 1 } }],
      expect: { state: 'succeeded', finishedAt: at(9), result: { ok: 1 }, errorCode: null },
    },
    {
      name: 'a retryable failure with attempts left queues a retry after the backoff',
      start: dispatched(1),
      events: [{ type: 'failed', at: at(30), attempt: 1, error: err(true) }],
      expect: { state: 'queued', notBefore: at(90), errorCode: 'X', deadlineAt: null, finishedAt: null },
    },
    {
      name: 'a retryable failure on the last attempt fails and says it gave up',
      start: dispatched(3),
      events: [{ type: 'failed', at: at(30), attempt: 3, error: err(true) }],
      expect: { state: 'failed', finishedAt: at(30), errorMessage: 'boom (gave up after 3 attempts)' },
    },
    {
      name: 'a permanent failure fails at once and names its cause',
      start: dispatched(1),
      events: [{ type: 'failed', at: at(30), attempt: 1, error: err(false) }],
      expect: { state: 'failed', errorCode: 'X', errorMessage: 'boom' },
    },
    {
      name: 'a failure of an older attempt is ignored',
      start: dispatched(2),
      events: [{ type: 'failed', at: at(30), attempt: 1, error: err(false) }],
      expect: { state: 'dispatched', attempt: 2 },
    },
    {
      name: 'progress of an older attempt is ignored',
      start: dispatched(2),
      events: [{ type: 'progress', at: at(30), attempt: 1, done: 1, total: 2 }],
      expect: { state: 'dispatched', progressDone: null },
    },
    {
      name: 'a timeout after the deadline retries with TASK_TIMEOUT',
      start: dispatched(1),
      events: [{ type: 'timeout', at: at(601) }],
      expect: { state: 'queued', errorCode: 'TASK_TIMEOUT', notBefore: at(661) },
    },
    {
      name: 'a timeout before the deadline does nothing',
      start: dispatched(1),
      events: [{ type: 'timeout', at: at(599) }],
      expect: { state: 'dispatched' },
    },
    {
      name: 'a late success after giving up is recorded (the work is done)',
      start: task({ state: 'failed', attempt: 3, finishedAt: at(1), errorCode: 'TASK_TIMEOUT' }),
      events: [{ type: 'succeeded', at: at(50), attempt: 2, result: 'r' }],
      expect: { state: 'succeeded', finishedAt: at(50), errorCode: null, result: 'r' },
    },
    {
      name: 'a duplicated success changes nothing',
      start: task({ state: 'succeeded', attempt: 1, finishedAt: at(1), result: 'first' }),
      events: [{ type: 'succeeded', at: at(50), attempt: 1, result: 'second' }],
      expect: { finishedAt: at(1), result: 'first' },
    },
    {
      name: 'a failure keeps the side the agent named; a later success clears it',
      start: dispatched(1),
      events: [
        { type: 'failed', at: at(30), attempt: 1, error: { ...err(true), side: 'remote-full' } },
        { type: 'dispatch', at: at(95) },
      ],
      expect: { state: 'dispatched', attempt: 2, errorSide: 'remote-full' },
    },
    {
      name: 'success clears the side of an earlier failure',
      start: task({ state: 'dispatched', attempt: 2, dispatchedAt: t0, deadlineAt: at(600), errorCode: 'X', errorSide: 'pool' }),
      events: [{ type: 'succeeded', at: at(9), attempt: 2, result: 1 }],
      expect: { errorSide: null },
    },
    {
      name: 'cancel stops an active task but not a finished one',
      start: dispatched(1),
      events: [
        { type: 'cancel', at: at(3), reason: 'operator' },
        { type: 'cancel', at: at(4), reason: 'again' },
      ],
      expect: { state: 'cancelled', finishedAt: at(3), errorMessage: 'operator' },
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const end = run(row.start, row.events);
      for (const [key, value] of Object.entries(row.expect)) {
        assert.deepEqual(end[key as keyof TaskLifecycle], value, key);
      }
    });
  }

  it('reports no change for duplicate events', () => {
    const running = run(dispatched(), [{ type: 'progress', at: at(2), attempt: 1, done: 5, total: 10 }]);
    assert.equal(applyTaskEvent(running, { type: 'progress', at: at(2), attempt: 1, done: 5, total: 10 }, delay).changed, false);
  });

  it('superseded (refused unrun: a deposed coordinator sent it) queues it again at once without counting the attempt', () => {
    const last = dispatched(3);
    const { task: next, outcome } = applyTaskEvent(last, { type: 'superseded', at: at(7), attempt: 3 }, delay);
    assert.equal(outcome, 'retry-scheduled');
    assert.equal(next.state, 'queued');
    assert.deepEqual(next.notBefore, at(7));
    assert.equal(next.maxAttempts, 4, 'the attempt that never ran is given back');
    const again = applyTaskEvent(next, { type: 'dispatch', at: at(7) }, delay).task;
    assert.equal(again.attempt, 4, 'a new attempt: a new message id');
    // Only the attempt it names, and only while dispatched (one that started ran: not superseded).
    assert.equal(applyTaskEvent(last, { type: 'superseded', at: at(7), attempt: 2 }, delay).changed, false);
    assert.equal(applyTaskEvent({ ...last, state: 'running' }, { type: 'superseded', at: at(7), attempt: 3 }, delay).changed, false);
    assert.equal(applyTaskEvent(task({ state: 'succeeded', attempt: 3 }), { type: 'superseded', at: at(7), attempt: 3 }, delay).changed, false);
  });

  it('unsent (NATS did not take the message) queues it again after the first retry delay, however many times, never failing it', () => {
    let t = dispatched(3);
    for (let i = 0; i < 5; i++) {
      const next = applyTaskEvent(t, { type: 'unsent', at: at(10), attempt: t.attempt, error: { code: 'DISPATCH_FAILED', message: 'no quorum', retryable: true } }, delay);
      assert.equal(next.outcome, 'retry-scheduled');
      assert.equal(next.task.state, 'queued');
      assert.deepEqual(next.task.notBefore, at(70), 'after the first retry delay (60 s here)');
      assert.equal(next.task.errorCode, 'DISPATCH_FAILED', 'the operator sees why it waits');
      t = applyTaskEvent(next.task, { type: 'dispatch', at: at(70) }, delay).task;
    }
    assert.deepEqual([t.state, t.attempt, t.maxAttempts], ['dispatched', 8, 8], 'five unsent attempts given back');
  });
});
