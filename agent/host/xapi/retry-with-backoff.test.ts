import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapWithLimit, Semaphore } from '../concurrency/semaphore.js';
import { backoffDelay, retryWithBackoff } from './retry-with-backoff.js';

const options = { tries: 4, baseDelayMs: 100, maxDelayMs: 250 };

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, scaled by the random draw', () => {
    assert.deepEqual([0, 1, 2, 3, 10].map((retry) => backoffDelay(retry, options, () => 0.999999)), [99, 199, 249, 249, 249]);
    assert.equal(backoffDelay(5, options, () => 0), 0);
  });
});

describe('retryWithBackoff', () => {
  it('retries transient failures and returns the first success', async () => {
    const waits: number[] = [];
    let calls = 0;
    const value = await retryWithBackoff(
      async () => {
        calls++;
        if (calls < 3) throw new Error('transient');
        return 'ok';
      },
      options,
      { isTransient: () => true, sleep: async (ms) => void waits.push(ms), random: () => 0.5 },
    );
    assert.equal(value, 'ok');
    assert.equal(calls, 3);
    assert.deepEqual(waits, [50, 100]);
  });
  it('gives up after `tries` attempts with the last error', async () => {
    let calls = 0;
    await assert.rejects(
      retryWithBackoff(async (attempt) => {
        calls++;
        throw new Error(`fail ${attempt}`);
      }, options, { isTransient: () => true, sleep: async () => undefined }),
      /fail 4/,
    );
    assert.equal(calls, 4);
  });
  it('does not retry a permanent failure', async () => {
    let calls = 0;
    await assert.rejects(
      retryWithBackoff(async () => {
        calls++;
        throw new Error('permanent');
      }, options, { isTransient: () => false, sleep: async () => undefined }),
      /permanent/,
    );
    assert.equal(calls, 1);
  });
});

describe('Semaphore and mapWithLimit', () => {
  it('never runs more than the limit at once and serves waiters in order', async () => {
    const semaphore = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        semaphore.run(async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(i);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
        }),
      ),
    );
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(semaphore.inUse, 0);
  });
  it('stops starting work after a failure and waits for what was started', async () => {
    const started: number[] = [];
    let finished = 0;
    await assert.rejects(
      mapWithLimit([0, 1, 2, 3], 2, async (i) => {
        started.push(i);
        await new Promise((resolve) => setTimeout(resolve, i === 0 ? 1 : 20));
        if (i === 0) throw new Error('disk 0 failed');
        finished++;
      }),
      /disk 0 failed/,
    );
    assert.deepEqual(started, [0, 1]);
    assert.equal(finished, 1, 'the started worker ran to its end before the rejection');
  });
});
