import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selectDispatch } from './select-dispatch.js';
import type { TaskRecord } from '../catalog/index.js';

let clock = 0;
function task(id: string, over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    kind: 'backup',
    address: 'lab',
    remoteName: 'nas',
    vmUuid: `vm-${id}`,
    payload: { policyId: 'p1' },
    createdAt: new Date(clock++),
    ...over,
  } as TaskRecord;
}
const limits = (n: number) => ({ concurrencyOf: (p: string) => (p === 'p1' ? n : undefined) });
const ids = (tasks: { id: string }[]) => tasks.map((t) => t.id);

describe('selectDispatch', () => {
  it('honours the policy concurrency per pool, oldest first', () => {
    const ready = [task('a'), task('b'), task('c'), task('d', { address: 'other' })];
    assert.deepEqual(ids(selectDispatch(ready, [], limits(2))), ['a', 'b', 'd']);
  });
  it('counts what agents already hold', () => {
    assert.deepEqual(ids(selectDispatch([task('a'), task('b')], [task('x')], limits(2))), ['a']);
  });
  it('sends one task at a time per VM and remote', () => {
    const ready = [task('a', { vmUuid: 'v' }), task('b', { vmUuid: 'v', kind: 'merge', address: 'nas', payload: {} })];
    assert.deepEqual(ids(selectDispatch(ready, [], limits(5))), ['a']);
    assert.deepEqual(ids(selectDispatch([ready[1]!], [ready[0]!], limits(5))), []);
  });
  it('the same VM to two remotes goes at once', () => {
    const ready = [task('a', { vmUuid: 'v' }), task('b', { vmUuid: 'v', remoteName: 'offsite' })];
    assert.deepEqual(ids(selectDispatch(ready, [], limits(5))), ['a', 'b']);
  });
  it('one scan per remote at a time', () => {
    const scan = (id: string) => task(id, { kind: 'scan', address: 'nas', vmUuid: null, payload: {} });
    assert.deepEqual(ids(selectDispatch([scan('s1'), scan('s2')], [], limits(1))), ['s1']);
  });
  it('a policy that is gone gets concurrency 1', () => {
    const ready = [task('a', { payload: { policyId: 'gone' } }), task('b', { payload: { policyId: 'gone' } })];
    assert.deepEqual(ids(selectDispatch(ready, [], limits(5))), ['a']);
  });
});
