// Crash safety of mergeVhd, by failure injection on real files. For three chains (a child into its
// dynamic base; a child larger than its base, so the BAT grows by moving a block; a child into a
// differencing parent, so bitmaps are unioned and parent locators move) the merge is stopped after
// every block N, at every crash point (state written, each region moved, BAT grown, each checkpoint,
// trailing footer, footer, rename) and twice in a row. After each stop the chain read through a
// grandchild, and the child's own chain, must equal the model; then the merge is resumed and the
// chain must still equal the model, be one disk shorter, and leave no state, lock or temporary.
// Merged dynamic disks are also read with qemu-img.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { qemuVhdToRaw } from '../../test/support/vhd-oracles.js';
import { buildLayers, copyFolder, hiddenFiles, range, readChain, type LayerSpec, type MergeFixture } from '../../test/support/merge-fixtures.js';
import { DiskType } from './format/index.js';
import { findInterruptedMerges, mergeVhd, type MergeOptions } from './merge.js';
import { MergeInjectedFailure, type MergePoint } from './merge-run.js';
import { readMergeState } from './merge-state.js';
import { VhdFile } from './vhd-file.js';

const BS = 64 * 1024;
/** Scenarios that need hundreds of BAT entries use tiny blocks, to keep their disks small. */
const SMALL = 16 * 1024;
const FULL = undefined;

interface Scenario {
  name: string;
  layers: LayerSpec[];
  /** Index of the layer merged into the one below it. */
  child: number;
  blockSize?: number;
}

const scenarios: Scenario[] = [
  {
    name: 'child into its dynamic base',
    child: 1,
    layers: [
      { name: 'base.vhd', size: 24 * BS, blocks: [...range(0, 12).map((index) => ({ index })), { index: 12, sectors: range(0, 32) }, { index: 13, sectors: [0, 9, 10, 77] }] },
      {
        name: 'child.vhd',
        size: 24 * BS,
        blocks: [
          ...[0, 2, 3, 4, 5, 6, 7, 14, 16, 18, 20, 21, 22].map((index) => ({ index, sectors: FULL })),
          { index: 1, sectors: [3, 5, 100] },
          { index: 8, sectors: [64] },
          { index: 12, sectors: range(16, 48) },
          { index: 13, sectors: range(64, 128) },
          { index: 15, sectors: [0, 1, 2, 127] },
          { index: 17, sectors: [] },
          { index: 19, sectors: range(8, 16) },
        ].sort((a, b) => a.index - b.index),
      },
      { name: 'grandchild.vhd', size: 24 * BS, blocks: [{ index: 2 }, { index: 12, sectors: range(0, 8) }, { index: 15 }, { index: 23, sectors: [100] }] },
    ],
  },
  {
    name: 'child larger than its base (BAT grows, a block moves)',
    child: 1,
    blockSize: SMALL,
    layers: [
      { name: 'base.vhd', size: 4 * SMALL, blocks: [{ index: 0 }, { index: 1 }, { index: 3, sectors: range(0, 16) }] },
      {
        name: 'child.vhd',
        size: 200 * SMALL,
        blocks: [
          { index: 0 },
          { index: 1, sectors: [5] },
          { index: 3, sectors: range(8, 24) },
          ...[5, 10, 50, 100, 128, 129, 150, 199].map((index) => ({ index })),
          { index: 180, sectors: [1, 2] },
        ].sort((a, b) => a.index - b.index),
      },
      { name: 'grandchild.vhd', size: 200 * SMALL, blocks: [{ index: 3, sectors: [0] }, { index: 129 }, { index: 190 }] },
    ],
  },
  {
    name: 'child into a differencing parent (bitmap union, locators move)',
    child: 2,
    blockSize: SMALL,
    layers: [
      { name: 'base.vhd', size: 16 * SMALL, blocks: range(0, 8).map((index) => ({ index })) },
      { name: 'mid.vhd', size: 16 * SMALL, blocks: [{ index: 1 }, { index: 2, sectors: range(0, 8) }, { index: 9, sectors: range(16, 20) }, { index: 10 }] },
      {
        name: 'child.vhd',
        size: 400 * SMALL,
        blocks: [
          { index: 0, sectors: [1] },
          { index: 2, sectors: range(4, 12) },
          { index: 3, sectors: range(25, 32) },
          { index: 9 },
          { index: 10, sectors: [0] },
          { index: 11, sectors: [7] },
          { index: 150 },
          { index: 399, sectors: range(0, 32) },
        ],
      },
      { name: 'grandchild.vhd', size: 400 * SMALL, blocks: [{ index: 2, sectors: [31] }, { index: 11 }, { index: 150, sectors: [3] }] },
    ],
  },
];

/** Fails at the `occurrence`-th crash point (from 0) among those `counted` selects. */
function failAt(occurrence: number, counted: (p: MergePoint) => boolean = named): NonNullable<MergeOptions['injectFailure']> {
  let seen = 0;
  return (point) => {
    if (counted(point) && seen++ === occurrence) throw new MergeInjectedFailure(`at ${point}`);
  };
}

/** The named steps of a merge; 'write' (before each write to the parent) is counted apart. */
const named = (p: MergePoint): boolean => p !== 'write';
const writes = (p: MergePoint): boolean => p === 'write';

// The scenarios run side by side: their time is mostly fsync latency, which overlaps well.
describe('merge crash safety', { concurrency: scenarios.length }, () => {
  for (const sc of scenarios) {
    describe(sc.name, () => {
      let root: string;
      let template: string;
      let fixture: MergeFixture;
      let work = 0;
      const top = sc.layers.length - 1;
      const names = sc.layers.map((l) => l.name);
      const childBlocks = sc.layers[sc.child]!.blocks.length;
      const parentDynamic = sc.child === 1;

      before(async () => {
        root = await mkdtemp(join(tmpdir(), 'deltachain-merge-'));
        template = join(root, 'template');
        await mkdir(template);
        fixture = await buildLayers(template, sc.layers, { blockSize: sc.blockSize ?? BS, seed: sc.name });
      });
      after(() => rm(root, { recursive: true, force: true }));

      async function fresh(): Promise<string> {
        const dir = join(root, `run-${work++}`);
        await copyFolder(template, dir);
        return dir;
      }

      /** The chain reads the model through the grandchild and through the child. */
      async function assertReadable(dir: string, when: string): Promise<void> {
        const head = await readChain(join(dir, names[top]!));
        assert.ok(head.data.equals(fixture.model(top)), `${when}: chain through ${names[top]} differs from the model`);
        const child = await readChain(join(dir, names[sc.child]!));
        assert.ok(child.data.equals(fixture.model(sc.child)), `${when}: chain through ${names[sc.child]} differs from the model`);
      }

      async function assertMerged(dir: string, when: string, withQemu = true): Promise<void> {
        const head = await readChain(join(dir, names[top]!));
        assert.ok(head.data.equals(fixture.model(top)), `${when}: merged chain differs from the model`);
        assert.equal(head.depth, sc.layers.length - 1, `${when}: chain not one disk shorter`);
        assert.equal(existsSync(join(dir, names[sc.child - 1]!)), false, `${when}: parent name still exists`);
        assert.deepEqual(await hiddenFiles(dir), [], `${when}: state, lock or temporary left behind`);
        const merged = await VhdFile.open(join(dir, names[sc.child]!));
        try {
          assert.equal(merged.footer.uuid, fixture.uuids[sc.child]);
          assert.equal(merged.currentSize, sc.layers[sc.child]!.size);
          assert.equal(merged.footer.diskType, parentDynamic ? DiskType.Dynamic : DiskType.Differencing);
          assert.equal(merged.trailingFooterProblem, undefined, `${when}: trailing footer`);
          if (!parentDynamic) assert.equal(merged.header.parentUuid, fixture.uuids[sc.child - 2]);
        } finally {
          await merged.close();
        }
        if (parentDynamic && withQemu) {
          const raw = join(dir, 'qemu.raw');
          await qemuVhdToRaw(join(dir, names[sc.child]!), raw);
          assert.ok((await readFile(raw)).equals(fixture.model(sc.child)), `${when}: qemu-img reads the merged disk differently`);
          await rm(raw);
        }
      }

      /** Runs a merge expected to stop by injection; checks the chain and that a resume is pending. */
      async function crash(dir: string, options: MergeOptions, when: string): Promise<void> {
        await assert.rejects(mergeVhd(join(dir, names[sc.child]!), { checkpointBlocks: 3, ...options }), MergeInjectedFailure, when);
        await assertReadable(dir, `${when}, after the failure`);
        assert.deepEqual(await findInterruptedMerges(dir), [join(dir, names[sc.child]!)], `${when}: merge not found as interrupted`);
      }

      async function resumeAndCheck(dir: string, when: string, withQemu = false): Promise<void> {
        const result = await mergeVhd(join(dir, names[sc.child]!), { checkpointBlocks: 3 });
        assert.equal(result.resumed, true, when);
        assert.equal(result.blocksMerged, childBlocks, when);
        await assertMerged(dir, `${when}, resumed`, withQemu);
        await rm(dir, { recursive: true });
      }

      it('merges: the chain reads the same, one disk shorter, and the parent became the child', async () => {
        const dir = await fresh();
        await assertReadable(dir, 'before');
        const progress: number[] = [];
        const result = await mergeVhd(join(dir, names[sc.child]!), { onProgress: (done, total) => progress.push(done * 1000 + total) });
        assert.deepEqual(result, { path: join(dir, names[sc.child]!), parentPath: join(dir, names[sc.child - 1]!), blocksMerged: childBlocks, blocksCopied: childBlocks - emptyBlocks(sc), resumed: false });
        assert.equal(progress.at(-1), childBlocks * 1000 + childBlocks);
        await assertMerged(dir, 'merged');
      });

      it('recovers from a failure after every block N', async () => {
        for (let n = 0; n <= childBlocks; n++) {
          const dir = await fresh();
          await crash(dir, { failAfterBlocks: n }, `failure after ${n} blocks`);
          const state = await readMergeState(dir, names[sc.child - 1]!);
          assert.equal(state?.step, 'blocks');
          if (n >= 3) assert.ok(state!.nextBlock > 0, `after ${n} blocks no checkpoint was recorded`);
          await resumeAndCheck(dir, `failure after ${n} blocks`);
        }
      });

      it('recovers from a failure at every crash point', async () => {
        const points: MergePoint[] = [];
        await mergeVhd(join(await fresh(), names[sc.child]!), { checkpointBlocks: 3, injectFailure: (p) => void (named(p) && points.push(p)) });
        assert.deepEqual([points[0], ...points.slice(-3)], ['started', 'footer-trailing', 'footer', 'renamed']);
        if (sc.name.includes('BAT grows') || !parentDynamic) assert.ok(points.includes('bat-move') && points.includes('bat-grown'));
        for (let k = 0; k < points.length; k++) {
          const dir = await fresh();
          await crash(dir, { injectFailure: failAt(k) }, `failure at point ${k} (${points[k]})`);
          await resumeAndCheck(dir, `failure at point ${k} (${points[k]})`, true);
        }
      });

      it('recovers from a failure before every write to the parent', async () => {
        let count = 0;
        await mergeVhd(join(await fresh(), names[sc.child]!), { checkpointBlocks: 3, injectFailure: (p) => void (writes(p) && count++) });
        assert.ok(count > childBlocks, `only ${count} writes`);
        for (let k = 0; k < count; k++) {
          const dir = await fresh();
          await crash(dir, { injectFailure: failAt(k, writes) }, `failure before write ${k}`);
          await resumeAndCheck(dir, `failure before write ${k}`);
        }
      });

      it('recovers when the resumed merge fails too', async () => {
        const pairs: Array<[number, number]> = [
          [1, 0],
          [4, 2],
          [childBlocks - 1, 1],
          [childBlocks, 0],
        ];
        for (const [first, second] of pairs) {
          const dir = await fresh();
          await crash(dir, { failAfterBlocks: first }, `failure after ${first} blocks`);
          await crash(dir, { failAfterBlocks: second }, `then after ${second} more`);
          await resumeAndCheck(dir, `failures after ${first} then ${second} blocks`);
        }
        for (const [first, second] of [[1, 0], [3, 1], [2, 2]] as const) {
          const dir = await fresh();
          let points = 0;
          await mergeVhd(join(await fresh(), names[sc.child]!), { checkpointBlocks: 3, injectFailure: (p) => void (named(p) && points++) });
          await crash(dir, { injectFailure: failAt(points - 1 - first) }, `failure at the ${first}th point from the end`);
          await crash(dir, { injectFailure: failAt(second) }, `then at point ${second} of the resumed merge`);
          await resumeAndCheck(dir, `two late failures (${first}, ${second})`);
        }
      });
    });
  }
});

function emptyBlocks(sc: Scenario): number {
  return sc.layers[sc.child]!.blocks.filter((b) => b.sectors !== undefined && b.sectors.length === 0).length;
}
