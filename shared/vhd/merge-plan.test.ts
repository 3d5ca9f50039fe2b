// The pure decisions of a merge, table-driven: which child blocks are copied whole, how a partial
// block combines with the parent's (and that doing it twice changes nothing), where appends go,
// what a BAT growth must move, the merged footer, and what each crash leftover needs on resume.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BAT_ABSENT,
  DiskType,
  PlatformCode,
  SECTOR_SIZE,
  emptyLocator,
  isSectorMarked,
  markSector,
  newBat,
  newFooter,
  newHeader,
} from './format/index.js';
import {
  classifyChildBlock,
  combinePartialBlock,
  dataEnd,
  locatorBytes,
  mergedFooter,
  planBatGrowth,
  resumeAction,
  type FileLayout,
} from './merge-plan.js';
import type { MergeState } from './merge-state.js';

const SECTORS = 16; // 8 KiB blocks keep buffers tiny
const BITMAP = 512;
const GEOMETRY = { bitmapSize: BITMAP, sectors: SECTORS };

function block(fillByte: number, sectors: number[] | 'all'): Buffer {
  const buf = Buffer.alloc(BITMAP + SECTORS * SECTOR_SIZE, fillByte);
  buf.fill(0, 0, BITMAP);
  for (let s = 0; s < SECTORS; s++) if (sectors === 'all' || sectors.includes(s)) markSector(buf, s);
  return buf;
}

/** The byte each sector of a block's data starts with. */
function sectorBytes(buf: Buffer): number[] {
  return Array.from({ length: SECTORS }, (_, s) => buf[BITMAP + s * SECTOR_SIZE]!);
}

function marked(buf: Buffer): number[] {
  return Array.from({ length: SECTORS }, (_, s) => s).filter((s) => isSectorMarked(buf, s));
}

describe('classifyChildBlock', () => {
  const cases: Array<[string, number[] | 'all', string]> = [
    ['every sector', 'all', 'full'],
    ['no sector', [], 'empty'],
    ['one sector', [5], 'partial'],
    ['all but the last', Array.from({ length: SECTORS - 1 }, (_, i) => i), 'partial'],
  ];
  for (const [what, sectors, expected] of cases) {
    it(`${what} → ${expected}`, () => assert.equal(classifyChildBlock(block(0, sectors), SECTORS), expected));
  }
  it('ignores padding bits past the block', () => {
    const bm = Buffer.alloc(BITMAP, 0xff);
    assert.equal(classifyChildBlock(bm, 12), 'full');
    bm.fill(0);
    bm[1] = 0x0f; // sectors 12..15 only: past a 12-sector block
    assert.equal(classifyChildBlock(bm, 12), 'empty');
  });
});

describe('combinePartialBlock', () => {
  const child = [1, 2, 9];
  const cases: Array<{ what: string; parent: number[] | 'all' | undefined; dynamic: boolean; bytes: (s: number) => number; bits: number[] }> = [
    {
      what: 'dynamic parent without the block: zeros, full bitmap',
      parent: undefined,
      dynamic: true,
      bytes: (s) => (child.includes(s) ? 0xcc : 0),
      bits: Array.from({ length: SECTORS }, (_, i) => i),
    },
    {
      what: 'dynamic parent with a full block: parent data, full bitmap',
      parent: 'all',
      dynamic: true,
      bytes: (s) => (child.includes(s) ? 0xcc : 0xaa),
      bits: Array.from({ length: SECTORS }, (_, i) => i),
    },
    {
      what: 'dynamic parent with a partial block: its unmarked sectors read as zeros',
      parent: [2, 3, 4],
      dynamic: true,
      bytes: (s) => (child.includes(s) ? 0xcc : [3, 4].includes(s) ? 0xaa : 0),
      bits: Array.from({ length: SECTORS }, (_, i) => i),
    },
    {
      what: 'differencing parent with a partial block: union of bitmaps',
      parent: [2, 3, 4],
      dynamic: false,
      bytes: (s) => (child.includes(s) ? 0xcc : 0xaa),
      bits: [1, 2, 3, 4, 9],
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const merged = block(0xcc, child);
      const parent = c.parent === undefined ? undefined : block(0xaa, c.parent);
      combinePartialBlock(merged, parent, GEOMETRY, c.dynamic);
      assert.deepEqual(sectorBytes(merged), Array.from({ length: SECTORS }, (_, s) => c.bytes(s)));
      assert.deepEqual(marked(merged), c.bits);
    });
  }

  it('is idempotent: merging the child again into the merged block changes nothing', () => {
    const sectorSet = fc.uniqueArray(fc.integer({ min: 0, max: SECTORS - 1 }), { maxLength: SECTORS });
    fc.assert(
      fc.property(sectorSet, fc.option(sectorSet, { nil: undefined }), fc.boolean(), (childSectors, parentSectors, dynamic) => {
        const childBlock = block(0xcc, childSectors);
        const parentBlock = parentSectors === undefined ? undefined : block(0xaa, parentSectors);
        const once = Buffer.from(childBlock);
        combinePartialBlock(once, parentBlock, GEOMETRY, dynamic);
        const twice = Buffer.from(childBlock);
        combinePartialBlock(twice, Buffer.from(once), GEOMETRY, dynamic);
        assert.ok(once.equals(twice));
      }),
    );
  });
});

function layout(options: { entries: number; blocks?: Record<number, number>; locators?: Array<[number, number, number]> }): FileLayout {
  const bat = newBat(options.entries);
  for (const [i, sector] of Object.entries(options.blocks ?? {})) bat[Number(i)] = sector;
  const parentLocators = (options.locators ?? []).map(([offset, space, length]) => ({
    ...emptyLocator(),
    platformCode: PlatformCode.W2ru,
    platformDataOffset: offset,
    platformDataSpace: space,
    platformDataLength: length,
  }));
  return {
    headerOffset: 512,
    header: newHeader({ tableOffset: 1536, maxTableEntries: options.entries, blockSize: 4096, parentLocators }),
    bat,
    blockBytes: 512 + 4096,
  };
}

describe('dataEnd', () => {
  it('is the end of the BAT when nothing follows', () => assert.equal(dataEnd(layout({ entries: 4 })), 2048));
  it('is past the last block, wherever it is in the BAT', () => {
    assert.equal(dataEnd(layout({ entries: 4, blocks: { 0: 100, 3: 4 } })), 100 * 512 + 4608);
  });
  it('counts locator data, its space read as sectors or as bytes', () => {
    assert.equal(dataEnd(layout({ entries: 4, locators: [[2048, 2, 30]] })), 3072);
    assert.equal(dataEnd(layout({ entries: 4, locators: [[2048, 1024, 30]] })), 3072);
    assert.equal(locatorBytes(0, 700), 1024);
  });
});

describe('planBatGrowth', () => {
  it('does nothing when the BAT is big enough', () => assert.deepEqual(planBatGrowth(layout({ entries: 8 }), 8), { kind: 'none' }));
  it('uses the sector padding without moving anything', () => {
    assert.deepEqual(planBatGrowth(layout({ entries: 8, blocks: { 0: 4 } }), 128), { kind: 'extend', entries: 128, moves: [] });
  });
  it('moves the blocks and locators where the longer BAT goes, in file order', () => {
    // locator 2048..2560, block 2 at 2560..7168, block 0 at 7168..11776
    const l = layout({ entries: 8, blocks: { 0: 14, 1: 40, 2: 5 }, locators: [[2048, 1, 20]] });
    const names = (entries: number) => {
      const plan = planBatGrowth(l, entries);
      return plan.kind === 'extend' ? plan.moves.map((m) => (m.kind === 'block' ? `block ${m.index}` : `locator ${m.slot}`)) : [];
    };
    assert.deepEqual(names(300), ['locator 0', 'block 2']); // BAT to 3072
    assert.deepEqual(names(2000), ['locator 0', 'block 2', 'block 0']); // BAT to 9728
  });
  it('refuses when the header sits after the BAT', () => {
    const l = layout({ entries: 8 });
    assert.throws(() => planBatGrowth({ ...l, headerOffset: 2048 }, 300), /dynamic header/);
  });
});

describe('mergedFooter', () => {
  it('takes the child identity and keeps the parent type', () => {
    const parent = newFooter({ diskType: DiskType.Dynamic, currentSize: 1 << 20, uuid: '11111111-1111-4111-8111-111111111111', creatorApplication: 'caml' });
    const child = newFooter({ diskType: DiskType.Differencing, currentSize: 4 << 20, uuid: '22222222-2222-4222-8222-222222222222', date: new Date('2024-05-01') });
    const merged = mergedFooter(parent, child);
    assert.equal(merged.diskType, DiskType.Dynamic);
    assert.equal(merged.creatorApplication, 'caml');
    assert.equal(merged.uuid, child.uuid);
    assert.equal(merged.currentSize, 4 << 20);
    assert.equal(merged.timestamp, child.timestamp);
    assert.deepEqual(merged.geometry, child.geometry);
  });
});

describe('resumeAction', () => {
  const P = '11111111-1111-4111-8111-111111111111';
  const C = '22222222-2222-4222-8222-222222222222';
  const X = '33333333-3333-4333-8333-333333333333';
  const state = (step: MergeState['step']): MergeState => ({
    version: 1,
    child: 'c.vhd',
    parent: 'p.vhd',
    childUuid: C,
    parentUuid: P,
    step,
    nextBlock: 0,
    blocksMerged: 0,
    totalBlocks: 1,
    startedAt: '',
    updatedAt: '',
  });
  const table: Array<[MergeState['step'], string | undefined, string | undefined, string]> = [
    ['blocks', C, P, 'continue'],
    ['blocks', C, C, 'broken'],
    ['footer', C, P, 'continue'],
    ['footer', C, C, 'continue'],
    ['rename', C, C, 'continue'],
    ['rename', C, P, 'broken'],
    ['rename', C, undefined, 'cleanup'],
    ['blocks', C, undefined, 'broken'],
    ['rename', undefined, C, 'rename'],
    ['footer', undefined, C, 'rename'],
    ['footer', undefined, P, 'broken'],
    ['blocks', undefined, P, 'broken'],
    ['blocks', undefined, undefined, 'broken'],
    ['blocks', X, P, 'broken'],
    ['done', undefined, undefined, 'cleanup'],
  ];
  for (const [step, child, parent, expected] of table) {
    it(`${step}, child ${child?.slice(0, 1) ?? '-'}, parent ${parent?.slice(0, 1) ?? '-'} → ${expected}`, () => {
      assert.equal(resumeAction(state(step), { childUuid: child, parentUuid: parent }).kind, expected);
    });
  }
});

it('newBat entries are absent (sanity for the layouts above)', () => assert.equal(newBat(1)[0], BAT_ABSENT));
