import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { restorePoints } from './commands/inventory-commands.js';

const backup = (id: string, remote: string, takenAtMs: number, snapshotKey = ''): wire.Backup => ({ id, remote, takenAtMs, snapshotKey, status: 'committed', damage: [] }) as unknown as wire.Backup;

describe('restorePoints', () => {
  it('one point per snapshot time with its remotes; two snapshots in one second stay two points', () => {
    const points = restorePoints([backup('a1', 'nas', 1000), backup('a2', 'nas', 1000), backup('a3', 'nas', 3000), backup('b1', 'offsite', 1000), backup('b2', 'offsite', 1000), backup('c3', 'far', 3000)]);
    assert.deepEqual(points.map((p) => [p.takenAtMs, Object.entries(p.remotes).map(([r, x]) => `${r}:${x.backupId}`).sort()]), [
      [1000, ['nas:a1', 'offsite:b1']],
      [1000, ['nas:a2', 'offsite:b2']],
      [3000, ['far:c3', 'nas:a3']],
    ]);
  });

  it('two snapshots in one second held by different remotes stay apart, by snapshot, in the order a shared remote lists them', () => {
    // Listed by remote, then time: far holds only the later snapshot, which must not take nas's earlier one.
    const points = restorePoints([
      backup('f2', 'far', 1000, 'xvda=s2'),
      backup('n1', 'nas', 1000, 'xvda=s1'),
      backup('n2', 'nas', 1000, 'xvda=s2'),
      backup('o1', 'offsite', 1000, 'xvda=s1'),
      backup('o2', 'offsite', 1000, 'xvda=s2'),
    ]);
    assert.deepEqual(points.map((p) => Object.entries(p.remotes).map(([r, x]) => `${r}:${x.backupId}`).sort().join(' ')), ['nas:n1 offsite:o1', 'far:f2 nas:n2 offsite:o2']);
  });
});
