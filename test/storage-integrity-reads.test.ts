// Restores prove their bytes, at the storage level (real gRPC on loopback): every block GetDisk
// reads is checked against the checksums stored at commit, in both formats, so a flipped byte in
// a full, a middle delta or the newest delta fails the read of every date that reads it with
// DATA_LOSS naming the file and block, while the other dates read right. Each backup's chain
// digest (recorded at commit) is the digest of what GetDisk returns. The chain mixes whole and
// partly marked blocks (as CBT deltas send them) and its full has a version 1 `.sums`.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { decodeSums, encodeSums } from '../shared/sums/index.js';
import { DiskDigest, digestHex } from '../shared/grpc/disk-checksum.js';
import { startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import {
  MIXED_CHAIN,
  digestOfBlocks,
  flipByte,
  foldedDate,
  newChain,
  readBlocks,
  readVhd,
  uploadChain,
  type DiskRead,
} from './support/storage-chain-fixture.js';
import { sumsV1OfFile } from './support/sums-v1.js';
import { computeChainDigest } from '../agent/storage/chain-digest.js';

const MODEL = MIXED_CHAIN;

describe('checked reads and chain digests', () => {
  let h: StorageHarness;
  const chain = newChain(MODEL.length);
  const { vmUuid, ids } = chain;
  const path = (n: number): string => join(h.root, 'vms', vmUuid, 'disks', 'xvda', `${ids[n]}.vhd`);
  const rel = (n: number): string => `vms/${vmUuid}/disks/xvda/${ids[n]}.vhd`;
  const readers: [string, (n: number) => Promise<DiskRead>][] = [
    ['BLOCKS', (n) => readBlocks(h.client, vmUuid, ids[n]!)],
    ['VHD', (n) => readVhd(h.client, vmUuid, ids[n]!)],
  ];

  before(async () => {
    h = await startStorageHarness();
    await uploadChain(h.client, chain, MODEL.slice(0, 1));
    // The full's table as a storage agent of format version 1 wrote it: no flags.
    // A format 1 agent recorded the digest of that table in the backup's metadata.
    const v1 = await sumsV1OfFile(path(0));
    await writeFile(`${path(0)}.sums`, v1);
    const metaPath = join(h.root, 'vms', vmUuid, 'backups', `${ids[0]}.json`);
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as { disks: Array<{ digest: string }> };
    const digest = new DiskDigest();
    for (const entry of decodeSums(v1, 'v1').entries) digest.add(entry.index, entry.checksum);
    meta.disks[0]!.digest = digestHex(digest.digest());
    await writeFile(metaPath, JSON.stringify(meta));
    await uploadChain(h.client, chain, MODEL, 1);
  });
  after(async () => h.close());

  async function assertReadsRight(n: number, format: string, read: (n: number) => Promise<DiskRead>): Promise<DiskRead> {
    const got = await read(n);
    const want = foldedDate(MODEL, n);
    assert.deepEqual([...got.blocks.keys()], [...want.keys()], `${format} of ${ids[n]}: blocks`);
    for (const [index, data] of want) assert.ok(got.blocks.get(index)!.equals(data), `${format} of ${ids[n]}: block ${index}`);
    return got;
  }

  test('a version 1 .sums (the full\'s) still reads, and chains on it commit', async () => {
    assert.equal((await readFile(`${path(0)}.sums`)).readUInt32BE(8), 1);
    assert.equal((await readFile(`${path(1)}.sums`)).readUInt32BE(8), 2);
    for (const [format, read] of readers) await assertReadsRight(0, format, read);
  });

  test('the chain digest of every date is the digest of what GetDisk returns, in both formats, in every summary', async () => {
    const listed = await h.client.listBackups(vmUuid);
    assert.deepEqual(listed.map((b) => b.backupId), ids);
    for (let n = 0; n < ids.length; n++) {
      const want = digestOfBlocks(foldedDate(MODEL, n));
      const recorded = Buffer.from(listed[n]!.disks[0]!.chainDigest);
      assert.ok(recorded.equals(want), `${ids[n]}: chain digest ${recorded.toString('hex')} is not the fold's ${want.toString('hex')}`);
      for (const [format, read] of readers) assert.ok((await assertReadsRight(n, format, read)).digest.equals(recorded), `${format} digest of ${ids[n]}`);
      assert.ok(Buffer.from((await h.client.getBackup(vmUuid, ids[n]!)).backup!.disks[0]!.chainDigest).equals(recorded), 'GetBackup');
      // Committing again answers with the recorded digest. Not for the full: its table was
      // rewritten as a format 1 agent wrote it, after this client sent it (it remembers what it sent).
      if (n === 0) continue;
      const again = await h.client.commitBackup({ backupId: ids[n]!, vmUuid, timestampMs: 1, diskKeys: ['xvda'], recordsJson: '{}', policyJson: '', diskSources: [] });
      assert.equal(again.alreadyCommitted, true);
      assert.ok(Buffer.from(again.backup!.disks[0]!.chainDigest).equals(recorded), 'CommitBackup');
    }
    // The commits after the first took every older file's terms from the parent date's, cached
    // at its commit (chain-terms.ts); the whole chain digested again gives the same digests.
    for (let n = 1; n < ids.length; n++) {
      const target = { vmUuid, backupId: ids[n]!, diskKey: 'xvda', path: path(n) };
      const whole = await computeChainDigest(h.ctx, target, { rule: 'blake3' });
      assert.equal(whole.fromParentTerms, undefined);
      assert.ok(whole.digest.equals(Buffer.from(listed[n]!.disks[0]!.chainDigest)), `${ids[n]}: the whole chain's digest is the one recorded`);
      if (n < ids.length - 1) continue;
      const cached = await computeChainDigest(h.ctx, target, { cacheTerms: true, rule: 'blake3' });
      assert.equal(cached.fromParentTerms, true, 'the parent date terms are cached');
      assert.ok(cached.digest.equals(whole.digest));
      assert.ok(cached.blocksRead < whole.blocksRead, `only the newest file's partly marked blocks are read (${cached.blocksRead} of ${whole.blocksRead})`);
    }
    const metadata = JSON.parse(await readFile(join(h.root, 'vms', vmUuid, 'backups', `${ids[3]}.json`), 'utf8'));
    assert.equal(metadata.version, 3);
    assert.match(metadata.disks[0].chainDigest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(metadata.disks[0].chainDigestRule, 'blake3');
  });

  const cases: { what: string; layer: number; block: number; at?: number; affected: number[] }[] = [
    { what: 'the full, in a block the next delta replaces whole', layer: 0, block: 1, affected: [0] },
    { what: 'the full, under partly marked delta blocks', layer: 0, block: 5, affected: [0, 1, 2, 3] },
    { what: 'a middle delta', layer: 1, block: 12, affected: [1, 2, 3] },
    { what: 'a middle delta, in a marked sector of a partly marked block the next delta reads through', layer: 1, block: 3, at: 1024 * 512 + 12345, affected: [1, 2, 3] },
    // A partly marked block's checksum covers its marked sectors (docs/remote-format.md §6): no
    // reader ever takes an unmarked sector from it (the parent's is read), so damage there
    // changes no date, and every date still reads right.
    { what: 'a middle delta, in an unmarked sector of a partly marked block (never read)', layer: 1, block: 3, at: 12345, affected: [] },
    { what: 'the newest delta', layer: 3, block: 9, affected: [3] },
  ];
  for (const c of cases) {
    test(`a flipped byte in ${c.what}: ${c.affected.length > 0 ? 'every date reading it fails with DATA_LOSS naming file and block; the others read right' : 'every date reads right'}`, async () => {
      const undo = await flipByte(path(c.layer), c.block, c.at);
      try {
        for (let n = 0; n < ids.length; n++) {
          for (const [format, read] of readers) {
            if (!c.affected.includes(n)) {
              await assertReadsRight(n, format, read);
              continue;
            }
            const error = (await read(n).then(
              () => assert.fail(`${format} of ${ids[n]} read a damaged block without failing`),
              (e: unknown) => e,
            )) as ServiceError;
            assert.equal(error.code, status.DATA_LOSS, `${format} of ${ids[n]}: ${error.message}`);
            assertDamageMessage(error.details, n, `file ${rel(c.layer)} block ${c.block} does not match the checksum stored at commit`, c.layer);
          }
        }
      } finally {
        await undo();
      }
    });
  }

  function assertDamageMessage(details: string, n: number, what: string, layer: number): void {
    assert.ok(details.startsWith(`backup ${ids[n]} of VM ${vmUuid}, disk xvda: ${what}; the stored data is damaged.`), details);
    const dependents = ids.slice(layer).map((id, k) => `${id} (${new Date(Date.parse('2026-11-26T10:00:00Z') + (layer + k) * 86_400_000).toISOString()})`);
    assert.ok(details.includes(`Backups that depend on this file: ${dependents.join(', ')}.`), details);
    assert.match(details, /Restore an earlier date .* run verify on backup .* the next backup of this VM will be a full\.$/);
  }

  test('a damaged or rewritten .sums fails reads of every date that depends on its file, at open', async () => {
    const sumsPath = `${path(2)}.sums`;
    const original = await readFile(sumsPath);
    try {
      const flipped = Buffer.from(original);
      flipped[40]! ^= 1;
      await writeFile(sumsPath, flipped);
      for (const n of [2, 3]) {
        const error = (await readBlocks(h.client, vmUuid, ids[n]!).catch((e: unknown) => e)) as ServiceError;
        assert.equal(error.code, status.DATA_LOSS);
        assertDamageMessage(error.details, n, `file ${rel(2)}: its checksum file is damaged: checksum file ${rel(2)}.sums: trailing hash mismatch`, 2);
      }
      await assertReadsRight(1, 'BLOCKS', readers[0]![1]);

      // A well-formed table whose checksums are not the ones committed: its digest gives it away.
      const sums = decodeSums(original, 'd2');
      sums.entries[0]!.checksum = Buffer.alloc(32, 7);
      await writeFile(sumsPath, encodeSums(sums.blockSize, sums.entries));
      const error = (await readVhd(h.client, vmUuid, ids[3]!).catch((e: unknown) => e)) as ServiceError;
      assert.equal(error.code, status.DATA_LOSS);
      assert.match(error.details, new RegExp(`file ${rel(2)}: the digest of its checksum file \\(sha256:[0-9a-f]{64}\\) differs from the one its backup's metadata recorded`));
    } finally {
      await writeFile(sumsPath, original);
    }
    await assertReadsRight(3, 'VHD', readers[1]![1]);
  });
});
