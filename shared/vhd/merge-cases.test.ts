// mergeVhd beyond the crash matrix: refusals that change nothing (every file's bytes compared),
// one merge at a time, cancellation, every leftover a crash can leave being finished, a child
// smaller than its parent, and a chain of 2 MiB blocks read afterwards by qemu-img and libvhdi.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildLayers, hiddenFiles, range, readChain, uuidFor, type LayerSpec, type MergeFixture } from '../../test/support/merge-fixtures.js';
import { libvhdiChainToRaw, qemuVhdToRaw, sha256File } from '../../test/support/vhd-oracles.js';
import { DiskType } from './format/index.js';
import { findInterruptedMerges, mergeVhd, VhdMergeError } from './merge.js';
import { MergeLockedError } from './merge-lock.js';
import { MergeInjectedFailure } from './merge-run.js';
import { MergeStateError, mergeStatePath, readMergeState, writeMergeState } from './merge-state.js';
import { VhdFile } from './vhd-file.js';
import { VhdWriter } from './vhd-writer.js';

const BS = 64 * 1024;
const MiB = 1024 * 1024;

const chain: LayerSpec[] = [
  { name: 'base.vhd', size: 16 * BS, blocks: range(0, 10).map((index) => ({ index })) },
  { name: 'child.vhd', size: 16 * BS, blocks: [1, 3, 5, 7, 9, 11, 12, 13, 14, 15].map((index) => ({ index })) },
  { name: 'grandchild.vhd', size: 16 * BS, blocks: [{ index: 3 }, { index: 4, sectors: [9] }] },
];

let root: string;
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'deltachain-merge-cases-'));
});
after(() => rm(root, { recursive: true, force: true }));

async function setup(layers: LayerSpec[] = chain, blockSize = BS): Promise<MergeFixture> {
  const dir = join(root, `case-${counter++}`);
  await mkdir(dir);
  return buildLayers(dir, layers, { blockSize, seed: `cases-${counter}` });
}

/** Name → sha256 of every file in `dir`. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await sha256File(join(dir, name));
  return out;
}

async function assertRefused(f: MergeFixture, target: string, code: string, message: RegExp): Promise<void> {
  const before = await snapshot(f.dir);
  await assert.rejects(mergeVhd(target), (error: unknown) => {
    assert.ok(error instanceof VhdMergeError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
  assert.deepEqual(await snapshot(f.dir), before, 'a refused merge changed files');
}

describe('mergeVhd refuses, changing nothing', () => {
  it('a dynamic disk', async () => {
    const f = await setup();
    await assertRefused(f, f.paths[0]!, 'VHD_MERGE_NOT_DIFFERENCING', /base\.vhd is not a differencing VHD/);
  });

  it('a child whose parent is another disk (uuid mismatch)', async () => {
    const f = await setup();
    await unlink(join(f.dir, 'base.vhd')); // a writer never replaces a file
    const impostor = await VhdWriter.create({ path: join(f.dir, 'base.vhd'), diskType: DiskType.Dynamic, currentSize: 16 * BS, uuid: uuidFor(99), blockSize: BS });
    await impostor.finish();
    await assertRefused(f, f.paths[1]!, 'VHD_MERGE_CHAIN_BROKEN', /00000000-0000-4000-8000-000000000001 but .*base\.vhd has uuid .*0063/);
  });

  it('a child whose parent is missing', async () => {
    const f = await setup();
    await unlink(f.paths[0]!);
    await assertRefused(f, f.paths[1]!, 'VHD_MERGE_PARENT_UNREADABLE', /parent of .*child\.vhd: .*base\.vhd/);
  });

  it('a child with another block size than its parent', async () => {
    const f = await setup();
    await unlink(join(f.dir, 'base.vhd')); // a writer never replaces a file
    const base = await VhdWriter.create({ path: join(f.dir, 'base.vhd'), diskType: DiskType.Dynamic, currentSize: 16 * BS, uuid: uuidFor(1), blockSize: 2 * BS });
    await base.finish();
    await assertRefused(f, f.paths[1]!, 'VHD_MERGE_UNSUPPORTED', /65536-byte blocks, its parent .* 131072/);
  });

  it('a parent in another folder', async () => {
    const f = await setup();
    const child = await VhdWriter.create({
      path: join(f.dir, 'far.vhd'),
      diskType: DiskType.Differencing,
      currentSize: 16 * BS,
      uuid: uuidFor(50),
      blockSize: BS,
      parent: { uuid: uuidFor(1), timestamp: 0, relativeName: '../elsewhere/base.vhd' },
    });
    await child.finish();
    await assertRefused(f, join(f.dir, 'far.vhd'), 'VHD_MERGE_UNSUPPORTED', /parent in the same folder/);
  });

  it('while another child is being merged into the same parent', async () => {
    const f = await setup();
    const now = new Date().toISOString();
    await writeMergeState(f.dir, {
      version: 1, child: 'sibling.vhd', parent: 'base.vhd', childUuid: uuidFor(7), parentUuid: uuidFor(1),
      step: 'blocks', nextBlock: 0, blocksMerged: 0, totalBlocks: 1, startedAt: now, updatedAt: now,
    });
    await assertRefused(f, f.paths[1]!, 'VHD_MERGE_OTHER_IN_PROGRESS', /being merged with sibling\.vhd/);
  });

  it('to merge a disk that an unfinished merge writes into, or into one it reads', async () => {
    const f = await setup();
    await assert.rejects(mergeVhd(f.paths[2]!, { failAfterBlocks: 1 }), MergeInjectedFailure); // grandchild into child
    await assertRefused(f, f.paths[1]!, 'VHD_MERGE_OTHER_IN_PROGRESS', /merge of grandchild\.vhd into child\.vhd is unfinished/);
    await mergeVhd(f.paths[2]!);
    const g = await setup();
    await assert.rejects(mergeVhd(g.paths[1]!, { failAfterBlocks: 1 }), MergeInjectedFailure); // child into base
    await assertRefused(g, g.paths[2]!, 'VHD_MERGE_OTHER_IN_PROGRESS', /merge of child\.vhd into base\.vhd is unfinished/);
  });

  it('to resume a merge whose child was replaced, keeping the state for inspection', async () => {
    const f = await setup();
    await assert.rejects(mergeVhd(f.paths[1]!, { failAfterBlocks: 4 }), MergeInjectedFailure);
    await unlink(join(f.dir, 'child.vhd')); // a writer never replaces a file
    const other = await VhdWriter.create({
      path: join(f.dir, 'child.vhd'), diskType: DiskType.Differencing, currentSize: 16 * BS, uuid: uuidFor(77), blockSize: BS,
      parent: { uuid: uuidFor(1), timestamp: 0, relativeName: './base.vhd' },
    });
    await other.finish();
    await assertRefused(f, f.paths[1]!, 'VHD_MERGE_CANNOT_RESUME', /child\.vhd has uuid .*004d, the merge was of/);
    assert.equal((await readMergeState(f.dir, 'base.vhd'))?.step, 'blocks');
  });

  it('a corrupt state file, naming it', async () => {
    const f = await setup();
    await writeFile(mergeStatePath(f.dir, 'base.vhd'), '{"version":1,"child":"child.vhd"');
    const before = await snapshot(f.dir);
    await assert.rejects(mergeVhd(f.paths[1]!), (error: unknown) => error instanceof MergeStateError && /\.base\.vhd\.merge\.json/.test(error.message));
    assert.deepEqual(await snapshot(f.dir), before);
  });
});

describe('mergeVhd finishes what a crash left', () => {
  it('lets one of two simultaneous merges of the same child run; the other is told to retry', async () => {
    const f = await setup();
    const results = await Promise.allSettled([mergeVhd(f.paths[1]!), mergeVhd(f.paths[1]!)]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const refused = results.find((r) => r.status === 'rejected')!.reason as { code?: string };
    assert.ok(refused instanceof MergeLockedError || refused.code === 'VHD_MERGE_NOT_DIFFERENCING', String(refused));
    const { data, depth } = await readChain(f.paths[2]!);
    assert.ok(data.equals(f.model(2)));
    assert.equal(depth, 2);
  });

  it('stops on abort after a checkpoint, and resumes from it', async () => {
    const f = await setup();
    const controller = new AbortController();
    const reason = new Error('operator cancelled');
    await assert.rejects(
      mergeVhd(f.paths[1]!, { signal: controller.signal, onProgress: (done) => done === 6 && controller.abort(reason) }),
      (error) => error === reason,
    );
    const state = await readMergeState(f.dir, 'base.vhd');
    assert.deepEqual([state?.nextBlock, state?.blocksMerged], [12, 6]);
    assert.ok((await readChain(f.paths[2]!)).data.equals(f.model(2)));
    const result = await mergeVhd(f.paths[1]!);
    assert.deepEqual([result.resumed, result.blocksCopied, result.blocksMerged], [true, 4, 10]);
    assert.ok((await readChain(f.paths[2]!)).data.equals(f.model(2)));
  });

  it('renames when the child is gone and the parent is complete', async () => {
    const f = await setup();
    await assert.rejects(mergeVhd(f.paths[1]!, { injectFailure: (p) => { if (p === 'footer') throw new MergeInjectedFailure(p); } }), MergeInjectedFailure);
    await unlink(f.paths[1]!);
    assert.deepEqual(await findInterruptedMerges(f.dir), [f.paths[1]]);
    const result = await mergeVhd(f.paths[1]!);
    assert.equal(result.resumed, true);
    const { data, depth } = await readChain(f.paths[2]!);
    assert.ok(data.equals(f.model(2)));
    assert.equal(depth, 2);
    assert.deepEqual(await hiddenFiles(f.dir), []);
  });

  it('only removes the state file when the rename was done', async () => {
    const f = await setup();
    await assert.rejects(mergeVhd(f.paths[1]!, { injectFailure: (p) => { if (p === 'renamed') throw new MergeInjectedFailure(p); } }), MergeInjectedFailure);
    assert.deepEqual(await findInterruptedMerges(f.dir), [f.paths[1]]);
    assert.ok((await readChain(f.paths[2]!)).data.equals(f.model(2)));
    assert.equal((await mergeVhd(f.paths[1]!)).resumed, true);
    assert.deepEqual(await findInterruptedMerges(f.dir), []);
    assert.deepEqual(await hiddenFiles(f.dir), []);
  });
});

describe('mergeVhd sizes and interoperability', () => {
  it('merges a child smaller than its parent (the disk shrank)', async () => {
    const f = await setup([
      { name: 'base.vhd', size: 16 * BS, blocks: range(0, 16).map((index) => ({ index })) },
      { name: 'child.vhd', size: 6 * BS - 1024, blocks: [{ index: 2 }, { index: 5, sectors: range(0, 4) }] },
    ]);
    await mergeVhd(f.paths[1]!);
    const merged = await VhdFile.open(f.paths[1]!);
    assert.equal(merged.currentSize, 6 * BS - 1024);
    await merged.close();
    assert.ok((await readChain(f.paths[1]!)).data.equals(f.model(1)));
    const raw = join(f.dir, 'merged.raw');
    await qemuVhdToRaw(f.paths[1]!, raw);
    assert.ok((await readFile(raw)).equals(f.model(1)));
  });

  it('merges 2 MiB blocks; qemu-img reads the merged disk and libvhdi the remaining chain', async () => {
    const pages = (first: number, count: number) => range(first * 8, (first + count) * 8); // whole 4 KiB pages
    const f = await setup(
      [
        { name: 'base.vhd', size: 24 * MiB, blocks: [0, 1, 2, 5, 8].map((index) => ({ index })) },
        { name: 'child.vhd', size: 32 * MiB, blocks: [{ index: 1 }, { index: 2, sectors: pages(10, 50) }, { index: 6, sectors: pages(0, 3) }, { index: 15 }] },
        { name: 'grandchild.vhd', size: 32 * MiB, blocks: [{ index: 2, sectors: pages(40, 30) }, { index: 9 }] },
      ],
      2 * MiB,
    );
    await mergeVhd(f.paths[1]!);
    const qemuRaw = join(f.dir, 'qemu.raw');
    await qemuVhdToRaw(f.paths[1]!, qemuRaw);
    assert.ok((await readFile(qemuRaw)).equals(f.model(1)), 'qemu-img reads the merged disk differently');
    const libvhdiRaw = join(f.dir, 'libvhdi.raw');
    assert.equal(await libvhdiChainToRaw([f.paths[2]!, f.paths[1]!], libvhdiRaw), 32 * MiB);
    assert.ok((await readFile(libvhdiRaw)).equals(f.model(2)), 'libvhdi reads the chain differently');
  });
});
