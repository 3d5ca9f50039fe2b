import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selectDispatch } from './select-dispatch.js';
import type { TaskRecord } from '../catalogue/index.js';

let clock = 0;
function task(id: string, over: object = {}): TaskRecord {
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
  it("a run's backups of one VM to several remotes go together and count once against the concurrency", () => {
    const ready = [
      task('a1', { vmUuid: 'v1', runId: 'r' }), task('a2', { vmUuid: 'v1', runId: 'r', remoteName: 'offsite' }),
      task('b1', { vmUuid: 'v2', runId: 'r' }), task('b2', { vmUuid: 'v2', runId: 'r', remoteName: 'offsite' }),
      task('c1', { vmUuid: 'v3', runId: 'r' }),
    ];
    assert.deepEqual(ids(selectDispatch(ready, [], limits(2))), ['a1', 'a2', 'b1', 'b2']);
    // A group in flight counts once; a member held back by its own chain does not hold the others.
    assert.deepEqual(ids(selectDispatch([ready[4]!], [ready[0]!, ready[1]!], limits(2))), ['c1']);
    const busyChain = task('m', { vmUuid: 'v2', remoteName: 'offsite', kind: 'merge', address: 'offsite', payload: {} });
    assert.deepEqual(ids(selectDispatch(ready.slice(2, 4), [busyChain], limits(2))), ['b1']);
  });

  it('one scan per remote at a time', () => {
    const scan = (id: string) => task(id, { kind: 'scan', address: 'nas', vmUuid: null, payload: {} });
    assert.deepEqual(ids(selectDispatch([scan('s1'), scan('s2')], [], limits(1))), ['s1']);
  });
  it('a policy that is gone gets concurrency 1', () => {
    const ready = [task('a', { payload: { policyId: 'gone' } }), task('b', { payload: { policyId: 'gone' } })];
    assert.deepEqual(ids(selectDispatch(ready, [], limits(5))), ['a']);
  });
  describe('releases of reference snapshots', () => {
    const release = (id: string, policyId = 'p1', address = 'lab') => task(id, { kind: 'release', address, remoteName: null, vmUuid: null, payload: { policyId } });
    const active = (...keys: string[]) => ({ ...limits(5), backupsActive: new Set(keys) });
    it('wait while backups of their policy on their pool are queued or in flight', () => {
      assert.deepEqual(ids(selectDispatch([release('r')], [], active('p1@lab'))), []);
      assert.deepEqual(ids(selectDispatch([release('r')], [task('x')], limits(5))), [], 'a backup in flight');
      assert.deepEqual(ids(selectDispatch([task('a'), release('r')], [], limits(5))), ['a'], 'a backup chosen in the same round');
    });
    it('go when only other policies or pools have backups', () => {
      const ready = [release('r1'), release('r2', 'p2'), release('r3', 'p1', 'other')];
      assert.deepEqual(ids(selectDispatch(ready, [task('x', { address: 'other' })], active('p2@other', 'p9@lab'))), ['r1', 'r2']);
    });
    it('one at a time per policy and pool, and the policy’s backups there wait for it', () => {
      assert.deepEqual(ids(selectDispatch([release('r1'), release('r2')], [], limits(5))), ['r1']);
      assert.deepEqual(ids(selectDispatch([task('a'), task('b', { address: 'other' })], [release('r')], limits(5))), ['b']);
    });
  });
});
