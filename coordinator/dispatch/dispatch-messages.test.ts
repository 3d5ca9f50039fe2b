import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskRecord } from '../catalogue/index.js';
import { messagesOf } from './dispatcher.js';

const task = (id: string, over: object = {}): TaskRecord => ({ id, kind: 'backup', address: 'lab', runId: 'r1', vmUuid: 'v1', remoteName: 'nas', payload: {}, ...over }) as unknown as TaskRecord;
const ids = (groups: TaskRecord[][]) => groups.map((g) => g.map((t) => t.id));

describe('messagesOf (what goes out as one message)', () => {
  it("a run's backup tasks of one VM on one pool are one message, led by the first remote by name; anything else goes alone", () => {
    const tasks = [
      task('a', { remoteName: 'offsite' }), task('b', { remoteName: 'nas' }),
      task('c', { vmUuid: 'v2' }),
      task('d', { runId: 'r2', remoteName: 'far' }),
      task('e', { kind: 'merge', address: 'nas' }), task('f', { kind: 'merge', address: 'nas' }),
      task('g', { runId: null, remoteName: 'x' }), task('h', { runId: null, remoteName: 'y' }),
    ];
    assert.deepEqual(ids(messagesOf(tasks)), [['b', 'a'], ['c'], ['d'], ['e'], ['f'], ['g'], ['h']]);
  });
  it('republished after a restart: tasks dispatched apart stay apart (their dispatch times differ)', () => {
    const tasks = [task('a', { remoteName: 'nas', at: 1 }), task('b', { remoteName: 'offsite', at: 1 }), task('c', { remoteName: 'far', at: 2 })];
    assert.deepEqual(ids(messagesOf(tasks, (t) => (t as unknown as { at: number }).at)), [['a', 'b'], ['c']]);
  });
});
