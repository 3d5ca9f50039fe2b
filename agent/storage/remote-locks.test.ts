import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { RemoteLocks } from './remote-locks.js';

test('one operation at a time per VM, VMs in parallel, withAll alone', async () => {
  const locks = new RemoteLocks();
  const log: string[] = [];
  const op = (vm: string, name: string, ms: number) =>
    locks.withVm(vm, async () => {
      log.push(`+${name}`);
      await delay(ms);
      log.push(`-${name}`);
    });
  const a1 = op('a', 'a1', 30);
  const a2 = op('a', 'a2', 5);
  const b1 = op('b', 'b1', 5);
  await delay(1);
  const all = locks.withAll(async () => {
    log.push('+all');
    await delay(5);
    log.push('-all');
  });
  await delay(1);
  const a3 = op('a', 'a3', 1);
  await Promise.all([a1, a2, b1, all, a3]);
  assert.deepEqual(log.slice(0, 2), ['+a1', '+b1']);
  assert.ok(log.indexOf('-a1') < log.indexOf('+a2'), 'a2 waited for a1');
  assert.ok(log.indexOf('+all') > log.indexOf('-a2') && log.indexOf('+all') > log.indexOf('-b1'), 'all waited for running VM work');
  assert.ok(log.indexOf('+a3') > log.indexOf('-all'), 'a3 waited for all');
});

test('a failing operation releases its lock', async () => {
  const locks = new RemoteLocks();
  await assert.rejects(locks.withVm('a', async () => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await locks.withVm('a', async () => 42), 42);
  assert.equal(await locks.withAll(async () => 7), 7);
});
