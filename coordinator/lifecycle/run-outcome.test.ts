import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveRunState } from './run-outcome.js';
import type { TaskState } from './task-lifecycle.js';
import { backoffDelay } from './backoff.js';

describe('deriveRunState', () => {
  const table: [TaskState[], string, boolean][] = [
    [[], 'failed', true],
    [['queued', 'queued'], 'pending', false],
    [['queued', 'dispatched'], 'running', false],
    [['succeeded', 'running'], 'running', false],
    [['succeeded', 'succeeded'], 'succeeded', true],
    [['succeeded', 'failed'], 'partial', true],
    [['failed', 'cancelled'], 'failed', true],
    [['cancelled', 'cancelled'], 'cancelled', true],
  ];
  for (const [states, state, finished] of table) {
    it(`[${states.join(', ')}] → ${state}`, () => {
      const outcome = deriveRunState(states.map((s) => ({ state: s })));
      assert.equal(outcome.state, state);
      assert.equal(outcome.finished, finished);
    });
  }
  it('says how many tasks failed', () => {
    assert.equal(deriveRunState([{ state: 'succeeded' }, { state: 'failed' }]).error, '1 of 2 tasks failed');
  });
});

describe('backoffDelay', () => {
  const options = { baseMs: 1000, maxMs: 10_000, jitter: 0.5 };
  it('doubles from the base and stops at the cap', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 40].map((a) => backoffDelay(a, options, 0.5)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
  it('jitters within ±25 % with jitter 0.5', () => {
    assert.equal(backoffDelay(2, options, 0), 1500);
    assert.equal(backoffDelay(2, options, 1), 2500);
  });
});
