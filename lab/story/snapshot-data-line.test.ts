import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snapshotDataLine } from './snapshot-data-line.js';

describe('snapshotDataLine', () => {
  it('gives the total, then each SR with its snapshots that hold data', () => {
    const sr = (name: string, bytes: number, count: number) => ({ uuid: name, name, physicalUtilisation: 0, snapshotsWithData: count, snapshotDataBytes: bytes });
    assert.equal(
      snapshotDataLine({ srs: [sr('Local storage', 6 * 1024 * 1024, 2), sr('Restore SR', 0, 0)], snapshotDataBytes: 6 * 1024 * 1024 }),
      "snapshot data on the pool's SRs: 6 MiB — Local storage 6 MiB (2 snapshots), Restore SR 0 B",
    );
  });
});
