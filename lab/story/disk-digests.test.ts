import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareDigests, type DiskDigestEntry } from './disk-digests.js';

const disk = (sha256: string, virtualSize = 1024): DiskDigestEntry => ({ userdevice: '0', vdi: 'v', virtualSize, sha256: sha256.repeat(64) });

describe('compareDigests', () => {
  it('matches position by position', () => {
    const result = compareDigests([disk('a'), disk('b')], [disk('a'), disk('b')]);
    assert.equal(result.ok, true);
    assert.deepEqual(result.disks.map((d) => d.ok), [true, true]);
  });
  it('names the disk that differs, in content or size', () => {
    const result = compareDigests([disk('a'), disk('b')], [disk('a'), disk('c')]);
    assert.equal(result.ok, false);
    assert.deepEqual(result.disks.map((d) => d.ok), [true, false]);
    assert.match(result.disks[1]!.text, /^disk 1: sha256 c+… \(1024 bytes\), expected b+…/);
    assert.equal(compareDigests([disk('a', 1024)], [disk('a', 2048)]).ok, false);
  });
  it('fails when a disk is missing', () => {
    const result = compareDigests([disk('a'), disk('b')], [disk('a')]);
    assert.equal(result.ok, false);
    assert.match(result.disks[0]!.text, /1 disks restored, 2 expected/);
  });
});
