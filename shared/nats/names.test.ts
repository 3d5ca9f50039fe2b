import assert from 'node:assert/strict';
import { test } from 'node:test';
import { natsNames } from './names.js';

test('subjects and streams live under the namespace', () => {
  const n = natsNames('deltachain-test-1a2b');
  assert.equal(n.tasksStream, 'DELTACHAIN_TEST_1A2B_TASKS');
  assert.equal(n.eventsStream, 'DELTACHAIN_TEST_1A2B_EVENTS');
  assert.equal(n.storageTasks('nas1'), 'deltachain-test-1a2b.tasks.storage.nas1');
  assert.equal(n.hostTasks('pool-a'), 'deltachain-test-1a2b.tasks.host.pool-a');
  assert.equal(n.event('storage-1', 'result'), 'deltachain-test-1a2b.events.storage-1.result');
  assert.equal(n.allTasks, 'deltachain-test-1a2b.tasks.>');
  assert.equal(natsNames().storageConsumer('nas1'), 'storage-nas1');
});

test('ids that would break a subject are refused', () => {
  for (const bad of ['a.b', 'a*', '>', '', 'A', 'x y']) assert.throws(() => natsNames().storageTasks(bad), RangeError, bad);
  assert.throws(() => natsNames('bad.ns'), RangeError);
});
