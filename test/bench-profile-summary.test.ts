// profile-summary.ts: self time per function from a V8 CPU profile's samples and time deltas.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selfTimes } from './bench/profile-summary.js';

test('self time sums the time deltas of the samples that landed in each function', () => {
  const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)') },
      { id: 2, callFrame: frame('update', 'node:internal/crypto/hash', 131) },
      { id: 3, callFrame: frame('(garbage collector)') },
      { id: 4, callFrame: frame('update', 'node:internal/crypto/hash', 131) },
    ],
    startTime: 0,
    endTime: 100,
    samples: [2, 3, 4, 2, 1],
    timeDeltas: [10, 20, 30, 5, 35],
  };
  assert.deepEqual(selfTimes(profile), [
    { name: 'update hash:132', micros: 45 },
    { name: '(root)', micros: 35 },
    { name: '(garbage collector)', micros: 20 },
  ]);
});
