import assert from 'node:assert/strict';
import { test } from 'node:test';
import { natsNames } from './names.js';

test('subjects and streams live under the namespace', () => {
  const n = natsNames('deltachain-test-1a2b');
  assert.equal(n.tasksStream, 'DELTACHAIN_TEST_1A2B_TASKS');
  assert.equal(n.eventsStream, 'DELTACHAIN_TEST_1A2B_EVENTS');
  assert.equal(n.storageTasks('nas1'), 'deltachain-test-1a2b.tasks.storage.nas1');
  assert.equal(n.hostTasks('pool-a'), 'deltachain-test-1a2b.tasks.host.pool-a');
  const storage = { role: 'storage', scope: 'nas1', agent: 'storage-1' } as const;
  assert.equal(n.event(storage, 'result'), 'deltachain-test-1a2b.events.storage.nas1.storage-1.result');
  assert.equal(n.eventsOf(storage), 'deltachain-test-1a2b.events.storage.nas1.storage-1.*');
  assert.equal(n.agentInbox(storage), '_INBOX.deltachain-test-1a2b.storage.nas1.storage-1');
  assert.equal(n.allTasks, 'deltachain-test-1a2b.tasks.>');
  assert.equal(natsNames().storageConsumer('nas1'), 'storage-nas1');
});

test('an event subject names its sender and kind; anything else names none', () => {
  const n = natsNames('ns');
  assert.deepEqual(n.parseEvent('ns.events.host.lab.host-1.heartbeat'), { sender: { role: 'host', scope: 'lab', agent: 'host-1' }, kind: 'heartbeat' });
  for (const subject of ['ns.events.host.lab.host-1', 'ns.events.admin.lab.host-1.result', 'other.events.host.lab.host-1.result', 'ns.events.host.lab.host-1.bogus', 'ns.tasks.host.lab', 'ns.events.host.lab.a.b.result']) {
    assert.equal(n.parseEvent(subject), undefined, subject);
  }
});

test('ids that would break a subject are refused', () => {
  for (const bad of ['a.b', 'a*', '>', '', 'A', 'x y']) assert.throws(() => natsNames().storageTasks(bad), RangeError, bad);
  assert.throws(() => natsNames('bad.ns'), RangeError);
  assert.throws(() => natsNames().event({ role: 'host', scope: 'lab', agent: 'a.b' }, 'result'), RangeError);
});
