import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventFilter, EventLog } from './event-log.js';
import type { XapiFailure } from '../rpc/xapi-failure.js';

const change = (cls: string, ref: string, operation: 'add' | 'mod' | 'del' = 'mod', n = 0) => ({
  cls,
  operation,
  ref,
  snapshot: { uuid: ref, n },
});

describe('EventLog', () => {
  it('returns events after a token, newest per object, filtered by class or object', () => {
    const log = new EventLog();
    const start = log.token();
    log.append(change('VM', 'OpaqueRef:a', 'add', 1));
    log.append(change('task', 'OpaqueRef:t', 'add'));
    log.append(change('VM', 'OpaqueRef:a', 'mod', 2));
    log.append(change('VM', 'OpaqueRef:b', 'add'));
    const vms = log.since(start, new EventFilter(['vm']));
    assert.deepEqual(vms.map((e) => [e.class, e.ref, e.operation, e.snapshot['n']]), [
      ['vm', 'OpaqueRef:a', 'mod', 2],
      ['vm', 'OpaqueRef:b', 'add', 0],
    ]);
    assert.deepEqual(log.since(start, new EventFilter(['vm/OpaqueRef:b'])).map((e) => e.ref), ['OpaqueRef:b']);
    assert.equal(log.since(start, new EventFilter(['*'])).length, 3);
    assert.deepEqual(log.since(log.token(), new EventFilter(['*'])), []);
  });

  it('snapshots records at the time of the change', () => {
    const log = new EventLog();
    const start = log.token();
    const record = { uuid: 'x', name: 'before' };
    log.append({ cls: 'VM', operation: 'add', ref: 'OpaqueRef:x', snapshot: record });
    record.name = 'after';
    assert.equal(log.since(start, new EventFilter(['vm']))[0]!.snapshot['name'], 'before');
  });

  it('answers EVENTS_LOST for foreign, future or expired tokens', () => {
    const log = new EventLog(10);
    const start = log.token();
    const lost = (token: string) =>
      assert.throws(() => log.since(token, new EventFilter(['*'])), (e: XapiFailure) => e.code === 'EVENTS_LOST');
    lost('');
    lost(new EventLog().token());
    lost(start.replace(/\d+$/, '99999999999999999999'));
    for (let i = 0; i < 20; i++) log.append(change('VM', `OpaqueRef:${i}`));
    lost(start);
  });

  it('wait resolves on the next event, on timeout, or on abort', async () => {
    const log = new EventLog();
    let t = Date.now();
    await log.wait(50);
    assert.ok(Date.now() - t >= 45);
    t = Date.now();
    setTimeout(() => log.append(change('VM', 'OpaqueRef:a')), 20);
    await log.wait(5000);
    assert.ok(Date.now() - t < 1000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    t = Date.now();
    await log.wait(5000, controller.signal);
    assert.ok(Date.now() - t < 1000);
  });
});
