import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { ChainLocks } from './chain-locks.js';

function recorder(locks: ChainLocks, log: string[]) {
  const step = (name: string, ms: number) => async () => {
    log.push(`+${name}`);
    await delay(ms);
    log.push(`-${name}`);
  };
  return {
    read: (vm: string, name: string, ms: number) => locks.read(vm, step(name, ms)),
    write: (vm: string, name: string, ms: number, onWait?: (reads: number) => void) => locks.write(vm, step(name, ms), onWait),
  };
}

test('reads share, a write waits for running reads, and reads that come after a waiting write wait behind it', async () => {
  const locks = new ChainLocks();
  const log: string[] = [];
  const { read, write } = recorder(locks, log);
  const waitedFor: number[] = [];
  const r1 = read('a', 'r1', 300);
  const r2 = read('a', 'r2', 5);
  await delay(1);
  assert.equal(locks.readers('a'), 2);
  const w = write('a', 'w', 10, (reads) => waitedFor.push(reads));
  await delay(1);
  const r3 = read('a', 'r3', 1);
  const other = read('b', 'b', 1);
  await Promise.all([r1, r2, w, r3, other]);
  assert.deepEqual(waitedFor, [2]);
  assert.deepEqual(log.slice(0, 2), ['+r1', '+r2'], 'reads run together');
  assert.ok(log.indexOf('+w') > log.indexOf('-r1') && log.indexOf('+w') > log.indexOf('-r2'), 'the write waited for both reads');
  assert.ok(log.indexOf('+r3') > log.indexOf('-w'), 'a read that came after the waiting write waited for it');
  assert.ok(log.indexOf('-b') < log.indexOf('+w'), "another VM's read did not wait");
  assert.equal(locks.readers('a'), 0);
});

test('writes of one VM run one at a time; reads queued behind a write enter together after it', async () => {
  const locks = new ChainLocks();
  const log: string[] = [];
  const { read, write } = recorder(locks, log);
  const w1 = write('a', 'w1', 10);
  const w2 = write('a', 'w2', 5);
  await delay(1);
  const r1 = read('a', 'r1', 10);
  const r2 = read('a', 'r2', 10);
  await Promise.all([w1, w2, r1, r2]);
  assert.deepEqual(log.slice(0, 4), ['+w1', '-w1', '+w2', '-w2']);
  assert.deepEqual(log.slice(4, 6).sort(), ['+r1', '+r2']);
});

test('a failing holder releases the lock', async () => {
  const locks = new ChainLocks();
  await assert.rejects(locks.write('a', async () => Promise.reject(new Error('boom'))), /boom/);
  await assert.rejects(locks.read('a', async () => Promise.reject(new Error('bang'))), /bang/);
  assert.equal(await locks.write('a', async () => 42), 42);
  assert.equal(await locks.read('a', async () => 7), 7);
});
