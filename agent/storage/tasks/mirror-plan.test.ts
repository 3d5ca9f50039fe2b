import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BackupMetadata, DiskRecord } from '../backup-metadata.js';
import { StorageRequestError } from '../errors.js';
import { planMirror, type MirrorTaskInput } from './mirror-plan.js';

const VM = '0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10';
const U = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const MiB = 1024 * 1024;

function record(key: string, footer: number, parent: number | null, o: Partial<DiskRecord> = {}): DiskRecord {
  return {
    key,
    file: `disks/${key}/b2.vhd`,
    vdiUuid: U(90),
    snapshotVdiUuid: U(91),
    virtualSize: 10 * MiB,
    blockSize: 2 * MiB,
    fileSize: 3 * MiB,
    blockCount: 2,
    footerUuid: U(footer),
    parentFooterUuid: parent === null ? null : U(parent),
    parentFile: parent === null ? null : `disks/${key}/b1.vhd`,
    chainPosition: parent === null ? 0 : 1,
    digest: DIGEST,
    chainDigest: DIGEST,
    chainDigestRule: 'pieces',
    ...o,
  };
}

function metadata(disks: DiskRecord[], o: Partial<BackupMetadata> = {}): BackupMetadata {
  return { format: 'deltachain-backup', version: 3, backupId: 'b2', vmUuid: VM, timestamp: '2026-11-27T10:00:00.000Z', committedAt: '2026-11-27T10:01:00.000Z', policy: {}, records: {}, disks, ...o };
}

function task(disks: [string, number, Buffer?][]): MirrorTaskInput {
  return { vmUuid: VM, backupId: 'b2', sourceRemoteId: 'src', disks: disks.map(([diskKey, footer, digest]) => ({ diskKey, footerUuid: U(footer), chainDigest: digest ?? Buffer.alloc(0) })) };
}

describe('planMirror', () => {
  test('a delta whose parent is a chain tail here travels as its own blocks; others as the whole disk, in the source order', () => {
    const plan = planMirror(task([['xvdb', 12], ['xvda', 2]]), metadata([record('xvda', 2, 1), record('xvdb', 12, 11)]), new Set(['xvda']));
    assert.deepEqual(
      plan.disks.map((d) => [d.diskKey, d.mode, d.parentFooterUuid, d.expectedBlocks]),
      [
        ['xvda', 'delta', U(1), 2],
        ['xvdb', 'full', undefined, 5],
      ],
    );
    assert.equal(plan.timestampMs, Date.parse('2026-11-27T10:00:00.000Z'));
  });

  test("a full is copied whole even when its key's chain is held; the parent must be held under the same key", () => {
    const plan = planMirror(task([['xvda', 2]]), metadata([record('xvda', 2, null)]), new Set(['xvda']));
    assert.equal(plan.disks[0]!.mode, 'full');
    assert.equal(planMirror(task([['xvda', 2]]), metadata([record('xvda', 2, 1)]), new Set(['xvdb'])).disks[0]!.mode, 'full');
  });

  test("the expected chain digest is the task's, else the source metadata's, with the source's rule", () => {
    const mine = Buffer.alloc(32, 0xcd);
    assert.equal(planMirror(task([['xvda', 2, mine]]), metadata([record('xvda', 2, null)]), new Set()).disks[0]!.expectedChainDigest, `sha256:${'cd'.repeat(32)}`);
    const legacy = planMirror(task([['xvda', 2]]), metadata([record('xvda', 2, null, { chainDigestRule: undefined })]), new Set()).disks[0]!;
    assert.deepEqual([legacy.expectedChainDigest, legacy.chainDigestRule], [DIGEST, 'whole']);
    const unknown = planMirror(task([['xvda', 2]]), metadata([record('xvda', 2, null, { chainDigest: undefined, chainDigestRule: undefined })]), new Set()).disks[0]!;
    assert.equal(unknown.expectedChainDigest, undefined);
  });

  const refusals: [string, MirrorTaskInput, BackupMetadata, RegExp][] = [
    ['no disk in the task', task([]), metadata([record('xvda', 2, 1)]), /lists no disk/],
    ['a disk twice', task([['xvda', 2], ['xvda', 2]]), metadata([record('xvda', 2, 1)]), /a disk twice/],
    ['a digest of the wrong length', task([['xvda', 2, Buffer.alloc(31)]]), metadata([record('xvda', 2, 1)]), /not 32 bytes/],
    ['another backup', task([['xvda', 2]]), metadata([record('xvda', 2, 1)], { backupId: 'b3' }), /answered with backup b3/],
    ['another VM', task([['xvda', 2]]), metadata([record('xvda', 2, 1)], { vmUuid: U(5) }), /of VM 00000000-0000-4000-8000-000000000005/],
    ['a disk the catalogue does not list', task([['xvda', 2]]), metadata([record('xvda', 2, 1), record('xvdb', 12, null)]), /holds disks xvda, xvdb, the catalogue xvda/],
    ['a disk missing', task([['xvda', 2], ['xvdb', 12]]), metadata([record('xvda', 2, 1)]), /holds disks xvda, the catalogue xvda, xvdb/],
    ['another footer uuid', task([['xvda', 3]]), metadata([record('xvda', 2, 1)]), /footer uuid .*002 there, the catalogue recorded .*003/],
    ['a timestamp that is no date', task([['xvda', 2]]), metadata([record('xvda', 2, 1)], { timestamp: 'yesterday' }), /not a date/],
  ];
  for (const [name, input, source, message] of refusals) {
    test(`refuses ${name}`, () => {
      assert.throws(() => planMirror(input, source, new Set(['xvda'])), (e: unknown) => e instanceof StorageRequestError && message.test(e.message) && /nothing was copied$/.test(e.message));
    });
  }
});
