import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mirrorBacklog, nextMirrorCopy, type MirrorPoint } from './plan-mirror.js';

const at = (s: number) => new Date(Date.UTC(2026, 11, 5, 0, 0, s));
function point(id: string, second: number, footer: string, parent: string | null): MirrorPoint {
  return { id, takenAt: at(second), policyId: null, vmName: 'vm', disks: [{ diskKey: 'xvda', footerUuid: footer, chainDigest: '', parentFooterUuid: parent }] };
}
const source = [point('b1', 10, 'f1', null), point('b2', 20, 'f2', 'f1'), point('b3', 30, 'f3', 'f2'), point('b4', 40, 'f4', 'f3')];

test('an empty target starts at the oldest of the newest `retention` points', () => {
  assert.deepEqual(mirrorBacklog(source, [], 2).map((p) => p.id), ['b3', 'b4']);
  assert.deepEqual(mirrorBacklog(source, [], 10).map((p) => p.id), ['b1', 'b2', 'b3', 'b4']);
});

test('a target that holds copies takes only newer points, oldest first', () => {
  assert.equal(nextMirrorCopy(source, [source[0]!, source[1]!], 7)?.id, 'b3');
  assert.deepEqual(mirrorBacklog(source, [source[3]!], 7), []);
});

test('points older than the target\'s newest are never copied (they would land mid-chain)', () => {
  // The target merged b1..b2 away and holds b3 only: b1, b2 are not copied back.
  assert.deepEqual(mirrorBacklog(source, [point('b3', 30, 'f3', null)], 7).map((p) => p.id), ['b4']);
});

test('the same snapshot under another backup id counts as held (one run wrote both remotes)', () => {
  const direct = [point('x1', 10, 'f1', null), point('x2', 20, 'f2', 'f1')];
  assert.deepEqual(mirrorBacklog(source, direct, 7).map((p) => p.id), ['b3', 'b4']);
});

test('two points of the same second go parent first, whatever their ids', () => {
  const same = [point('z-parent', 10, 'f1', null), point('a-child', 10, 'f2', 'f1')];
  assert.deepEqual(mirrorBacklog(same, [], 5).map((p) => p.id), ['z-parent', 'a-child']);
});

test('a retention below 1 is refused', () => {
  assert.throws(() => mirrorBacklog(source, [], 0), RangeError);
});

test('a point of the same second as the target\'s newest is still copied when it comes after it in the chain', () => {
  const same = [point('s1', 10, 'f1', null), point('s2', 10, 'f2', 'f1'), point('s3', 10, 'f3', 'f2')];
  assert.deepEqual(mirrorBacklog(same, [same[0]!], 5).map((p) => p.id), ['s2', 's3']);
  assert.deepEqual(mirrorBacklog(same, [same[1]!], 5).map((p) => p.id), ['s3']);
});
