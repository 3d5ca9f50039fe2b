// The piece rules at commit (docs/remote-format.md §6, remote formats 5 and 6) on a real storage agent over
// gRPC: a delta that changes whole 64 KiB pieces (as a CBT delta does) is committed with every
// changed block's chain-digest term composed from the upload's piece hashes and the parent date's,
// reading no block; a block changed in part of a piece is read. Every recorded chain digest is
// checked against the definition computed here from the layers' raw images (never through our
// own readers), against GetDisk BLOCKS and against the VHD stream digest a restoring host agent
// computes. A commit with the cache lost (an agent restart) reads the chain and records the same
// digest; a backup recorded by the whole-block rule or SHA-256 pieces (older writers) still serves,
// restores and verifies by its own rule, and the first BLAKE3 delta on such a chain reads it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { DiskDigest, digestHex, foldedTerm, type ChecksumRule } from '../shared/grpc/disk-checksum.js';
import { GetDiskFormat } from '../shared/grpc/storage-client.js';
import { WireChecksumRule } from '../shared/grpc/checksum-rule.js';
import { createLogger } from '../shared/logging/index.js';
import { ChainTermCache } from '../agent/storage/chain-terms.js';
import { computeChainDigest } from '../agent/storage/chain-digest.js';
import { runVerifyTask } from '../agent/storage/tasks/verify-task.js';
import { VhdStreamDigest } from '../agent/host/restore/vhd-stream-digest.js';
import { BLOCK, MiB, diskHeader, records, startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import { expectedImages, extentSectors, outgoingBlocks, pageSectors, type Layer } from './support/sparse-layers.js';
import { readBlocks, ruleOf } from './support/storage-chain-fixture.js';

const SIZE = 16 * MiB;
const FULL = Buffer.alloc(512, 0xff);

const layers: Layer[] = [
  // The full: blocks 0–5, block 6 and 7 absent.
  { seed: 1, blocks: [0, 1, 2, 3, 4, 5].map((index) => ({ index })) },
  // Whole 64 KiB pieces only, as CBT marks them: over data (0, 2), over nothing (6), a whole block (4).
  { seed: 2, blocks: [{ index: 0, sectors: extentSectors(0, 5, 6) }, { index: 2, sectors: extentSectors(31) }, { index: 4 }, { index: 6, sectors: extentSectors(3) }] },
  // One block changed in whole pieces (1), one in part of a piece (3: a 4 KiB page), one new (7).
  { seed: 3, blocks: [{ index: 1, sectors: extentSectors(2, 3) }, { index: 3, sectors: pageSectors(9) }, { index: 7, sectors: extentSectors(0) }] },
  // Committed with the cache lost (a restart): every changed block from the chain.
  { seed: 4, blocks: [{ index: 0, sectors: extentSectors(1) }, { index: 6, sectors: extentSectors(3, 4) }] },
];
const images = expectedImages(layers, SIZE);

/** The chain digest by definition: over every block any layer up to `n` holds, its term of the date's raw image. */
function definedDigest(n: number, rule: ChecksumRule): Buffer {
  const allocated = new Set(layers.slice(0, n + 1).flatMap((l) => l.blocks.map((b) => b.index)));
  const digest = new DiskDigest();
  for (const index of [...allocated].sort((a, b) => a - b)) digest.add(index, foldedTerm(rule, FULL, images[n]!.subarray(index * BLOCK, (index + 1) * BLOCK)));
  return digest.digest();
}

describe('chain digests by the piece rule at commit', () => {
  let h: StorageHarness;
  const vm = randomUUID();
  const ids = layers.map((_, n) => `2026120${n + 1}T100000Z-${n === 0 ? 'f' : `d${n}`}`);
  const uuids = ids.map(() => randomUUID());
  const logged: Array<Record<string, unknown>> = [];
  const metaPath = (n: number): string => join(h.root, 'vms', vm, 'backups', `${ids[n]}.json`);

  async function commitLayer(n: number): Promise<Record<string, unknown>> {
    const header = diskHeader({ vmUuid: vm, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: SIZE });
    await h.client.putDisk(header, outgoingBlocks(layers[n]!, 'packed'));
    const at = logged.length;
    await h.client.commitBackup({ backupId: ids[n]!, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
    const line = logged.slice(at).find((l) => l['msg'] === 'chain digest computed');
    assert.ok(line, `the commit of ${ids[n]} logged its chain digest`);
    return line;
  }

  async function vhdStreamDigest(n: number): Promise<Buffer> {
    let digest: VhdStreamDigest | undefined;
    for await (const part of h.client.getDiskParts(vm, ids[n]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD)) {
      if (part.$case === 'vhdStart') digest = new VhdStreamDigest(`${ids[n]}`, ruleOf(part.value.checksumRule));
      else if (part.$case === 'vhdChunk') digest!.update(part.value);
    }
    return digest!.digest();
  }

  async function assertDigests(n: number, rule: ChecksumRule): Promise<void> {
    const meta = JSON.parse(await readFile(metaPath(n), 'utf8')) as { disks: Array<{ chainDigest: string; chainDigestRule?: string }> };
    const want = definedDigest(n, rule);
    assert.equal(meta.disks[0]!.chainDigest, digestHex(want), `${ids[n]}: the recorded chain digest is the definition's (${rule})`);
    assert.equal(meta.disks[0]!.chainDigestRule, rule === 'whole' ? undefined : rule);
    const blocks = await readBlocks(h.client, vm, ids[n]!);
    assert.ok(blocks.digest.equals(want), `${ids[n]}: GetDisk BLOCKS digests to it`);
    assert.ok((await vhdStreamDigest(n)).equals(want), `${ids[n]}: the VHD stream digests to it, as a restore checks`);
  }

  before(async () => {
    h = await startStorageHarness();
    const lines = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logged.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    h.ctx.logger = createLogger({ level: 'debug', pretty: false, destination: lines });
  });
  after(async () => h.close());

  test('a full, then deltas in whole pieces: changed blocks composed, none read; a piece changed in part is read', async () => {
    const full = await commitLayer(0);
    assert.equal(full['blocksRead'], 0, 'the full: every term from its table');
    const first = await commitLayer(1);
    assert.deepEqual([first['fromParentTerms'], first['blocksComposed'], first['blocksRead']], [true, 4, 0], 'blocks 0, 2, 4, 6 composed (6 over zeros, 4 whole)');
    const second = await commitLayer(2);
    assert.deepEqual([second['fromParentTerms'], second['blocksComposed'], second['blocksRead']], [true, 2, 1], 'blocks 1 and 7 composed, block 3 (a 4 KiB page) read');
    for (let n = 0; n < 3; n++) await assertDigests(n, 'blake3');
  });

  test('a commit after the cache was lost reads the chain and records the same definition', async () => {
    h.ctx.chainTerms = new ChainTermCache();
    const third = await commitLayer(3);
    assert.equal(third['fromParentTerms'], false);
    assert.ok((third['blocksRead'] as number) > 0);
    await assertDigests(3, 'blake3');
    const verify = await runVerifyTask(h.ctx, { vmUuid: vm, backupId: ids[3]! });
    assert.ok(verify.ok, JSON.stringify(verify));
  });

  test('a backup recorded by the whole-block rule (an older writer) serves, digests and verifies by that rule', async () => {
    const path = join(h.root, 'vms', vm, 'disks', 'xvda', `${ids[2]}.vhd`);
    const whole = await computeChainDigest(h.ctx, { vmUuid: vm, backupId: ids[2]!, diskKey: 'xvda', path }, { rule: 'whole' });
    assert.ok(whole.digest.equals(definedDigest(2, 'whole')));
    const meta = JSON.parse(await readFile(metaPath(2), 'utf8')) as { version: number; disks: Array<Record<string, unknown>> };
    meta.version = 2;
    meta.disks[0]!['chainDigest'] = digestHex(whole.digest);
    delete meta.disks[0]!['chainDigestRule'];
    await writeFile(metaPath(2), JSON.stringify(meta));
    await assertDigests(2, 'whole');
    const verify = await runVerifyTask(h.ctx, { vmUuid: vm, backupId: ids[2]! });
    assert.ok(verify.ok, JSON.stringify(verify));
    meta.disks[0]!['chainDigest'] = digestHex(definedDigest(2, 'blake3'));
    await writeFile(metaPath(2), JSON.stringify(meta));
    const wrong = await runVerifyTask(h.ctx, { vmUuid: vm, backupId: ids[2]! });
    assert.equal(wrong.ok, false, 'a digest checked by a rule it was not taken by does not pass');
  });
});

describe('a chain of remote format 5 (SHA-256 pieces) taking a BLAKE3 delta', () => {
  let h: StorageHarness;
  const vm = randomUUID();
  const ids = layers.map((_, n) => `2026120${n + 1}T100000Z-${n === 0 ? 'f' : `d${n}`}`);
  const uuids = ids.map(() => randomUUID());
  const metaPath = (n: number): string => join(h.root, 'vms', vm, 'backups', `${ids[n]}.json`);
  const put = async (n: number, rule: WireChecksumRule): Promise<void> => {
    const header = diskHeader({ vmUuid: vm, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: SIZE, checksumRule: rule });
    await h.client.putDisk(header, outgoingBlocks(layers[n]!, 'packed'));
    await h.client.commitBackup({ backupId: ids[n]!, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
  };
  before(async () => (h = await startStorageHarness()));
  after(async () => h.close());

  test('the older dates keep serving and verifying by SHA-256 pieces; the new date is BLAKE3, read once from the chain', async () => {
    // Dates 0 and 1 as a format 5 writer left them: SHA-256 piece entries, a `pieces` chain digest.
    for (const n of [0, 1]) {
      await put(n, WireChecksumRule.CHECKSUM_RULE_PIECES);
      const meta = JSON.parse(await readFile(metaPath(n), 'utf8')) as { disks: Array<Record<string, unknown>> };
      meta.disks[0]!['chainDigest'] = digestHex(definedDigest(n, 'pieces'));
      meta.disks[0]!['chainDigestRule'] = 'pieces';
      await writeFile(metaPath(n), JSON.stringify(meta));
    }
    h.ctx.chainTerms = new ChainTermCache(); // as after the upgrade's restart
    await put(2, WireChecksumRule.CHECKSUM_RULE_PIECES_BLAKE3);
    const recorded = JSON.parse(await readFile(metaPath(2), 'utf8')) as { disks: Array<{ chainDigest: string; chainDigestRule?: string }> };
    assert.deepEqual([recorded.disks[0]!.chainDigest, recorded.disks[0]!.chainDigestRule], [digestHex(definedDigest(2, 'blake3')), 'blake3']);
    for (const n of [0, 1, 2]) {
      const blocks = await readBlocks(h.client, vm, ids[n]!);
      assert.ok(blocks.digest.equals(definedDigest(n, n < 2 ? 'pieces' : 'blake3')), `${ids[n]}: GetDisk BLOCKS digests to its own rule's definition`);
      const verify = await runVerifyTask(h.ctx, { vmUuid: vm, backupId: ids[n]! });
      assert.ok(verify.ok, `${ids[n]}: ${JSON.stringify(verify)}`);
    }
  });
});
