// `vhd check` in-process, against files damaged the ways files get damaged: torn appends,
// truncation, stale footer copies, flipped bytes in the header or BAT, blocks pointed at twice,
// missing or substituted parents, loops, and merges caught half-way. Each must stop at the
// first problem and name the faulty file.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildChain, type BuiltChain } from '../../../test/support/vhd-chain-builder.js';
import {
  BAT_ABSENT,
  DiskType,
  FOOTER_SIZE,
  decodeFooter,
  decodeHeader,
  encodeFooter,
  encodeHeader,
} from '../format/index.js';
import { writeMergeState } from '../merge-state.js';
import { VhdWriter } from '../vhd-writer.js';
import { checkVhdChain } from './check-vhd-chain.js';

const MiB = 1024 * 1024;
const SIZE = 12 * MiB;

describe('checkVhdChain', () => {
  let dir: string;
  let chain: BuiltChain;
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-check-'));
    chain = await buildChain({ dir, size: SIZE, depth: 3, seed: 'check', density: 0.5, partialPages: true });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh folder with copies of the chain (child first: top, mid, base), the copy at `which` damaged. */
  async function damaged(which: number, damage?: (f: FileHandle, size: number) => Promise<void>): Promise<string[]> {
    const sub = await mkdtemp(join(dir, `case-${n++}-`));
    const copies = chain.paths.map((p) => join(sub, p.slice(p.lastIndexOf('/') + 1)));
    for (let i = 0; i < copies.length; i++) await copyFile(chain.paths[i]!, copies[i]!);
    if (damage) {
      const f = await open(copies[which]!, 'r+');
      try {
        await damage(f, (await f.stat()).size);
      } finally {
        await f.close();
      }
    }
    return copies;
  }

  async function expectProblem(path: string, file: string, reason: RegExp): Promise<void> {
    const report = await checkVhdChain(path);
    assert.equal(report.ok, false, 'reported as unsound');
    assert.equal(report.problem?.file, file);
    assert.match(report.problem!.reason, reason);
    assert.ok(!report.problem!.reason.includes('\n'), 'one line');
  }

  it('passes the sound chain, reading every block of every disk', async () => {
    const report = await checkVhdChain(chain.paths[0]!);
    assert.equal(report.problem, undefined);
    assert.ok(report.ok);
    assert.deepEqual(report.disks.map((d) => d.path), chain.paths);
    assert.ok(report.disks.every((d) => d.allocatedBlocks > 0));
    assert.deepEqual(report.notes, []);
  });

  it('names a file whose trailing footer was torn, and says the copy at 0 is sound', async () => {
    const [top] = await damaged(0, (f, size) => f.write(Buffer.alloc(100, 0xaa), 0, 100, size - 300).then(() => undefined));
    await expectProblem(top!, top!, /^footer at offset \d+: bad checksum .*\(the copy at offset 0 is sound: an interrupted write\?\)$/);
  });

  it('names a file cut short, and one whose trailing footer overwrote the end of a block', async () => {
    const cutShort = async (f: FileHandle, size: number, by: number): Promise<void> => {
      const footer = await readAt(f, size - FOOTER_SIZE, FOOTER_SIZE);
      await f.truncate(size - by);
      await f.write(footer, 0, FOOTER_SIZE, size - by - FOOTER_SIZE);
    };
    const [top] = await damaged(0, (f, size) => cutShort(f, size, 4096));
    await expectProblem(top!, top!, /BAT entry \d+: block at bytes \d+\.\.\d+ runs past the end of the file/);
    const [top2] = await damaged(0, (f, size) => cutShort(f, size, FOOTER_SIZE));
    await expectProblem(top2!, top2!, /BAT entry \d+: block at bytes \d+\.\.\d+ runs past the trailing footer/);
  });

  it('names a file whose footer copy at 0 went stale', async () => {
    const [top, mid] = await damaged(1, async (f) => {
      const buf = Buffer.alloc(FOOTER_SIZE);
      await f.read(buf, 0, FOOTER_SIZE, 0);
      const footer = decodeFooter(buf);
      await f.write(encodeFooter({ ...footer, currentSize: footer.currentSize - 512 }), 0, FOOTER_SIZE, 0);
    });
    await expectProblem(top!, mid!, /^footer copy at offset 0 differs from the footer at offset \d+$/);
  });

  it('names the base when a byte of its header flipped', async () => {
    const [top, , base] = await damaged(2, (f) => f.write(Buffer.from([0x01]), 0, 1, 512 + 30).then(() => undefined));
    await expectProblem(top!, base!, /dynamic header at offset 512: bad checksum/);
  });

  it('names a file whose BAT points two blocks at one place', async () => {
    const [top] = await damaged(0, async (f) => {
      const header = decodeHeader(await readAt(f, 512, 1024), SIZE);
      const bat = await readAt(f, header.tableOffset, header.maxTableEntries * 4);
      const present: number[] = [];
      for (let i = 0; i < header.maxTableEntries; i++) if (bat.readUInt32BE(i * 4) !== BAT_ABSENT) present.push(i);
      const absent = [...Array(header.maxTableEntries).keys()].find((i) => !present.includes(i))!;
      bat.writeUInt32BE(bat.readUInt32BE(present[0]! * 4), absent * 4);
      await f.write(bat, 0, bat.length, header.tableOffset);
    });
    await expectProblem(top!, top!, /BAT entry \d+: block at byte \d+ overlaps block \d+/);
  });

  it('names a file with a block size that is not a power of two (header re-sealed)', async () => {
    const [top] = await damaged(0, async (f) => {
      const raw = await readAt(f, 512, 1024);
      raw.writeUInt32BE(3 * MiB, 32);
      raw.writeUInt32BE(0, 36);
      let sum = 0;
      for (let i = 0; i < raw.length; i++) sum += raw[i]!;
      raw.writeUInt32BE(~sum >>> 0, 36);
      await f.write(raw, 0, raw.length, 512);
    });
    await expectProblem(top!, top!, /block size 3145728 is not a power of two/);
  });

  it('names the child when its parent is missing, absolute, or another disk with the same name', async () => {
    const [top, mid] = await damaged(0);
    await rm(mid!);
    await expectProblem(top!, top!, /^parent "\.\/disk-01\.vhd" not found \(looked for .*disk-01\.vhd\)$/);

    const [top2, mid2] = await damaged(0);
    const other = await VhdWriter.create({ path: mid2!, diskType: DiskType.Dynamic, currentSize: SIZE, uuid: '0b0a5f3e-6c1d-4a57-9d44-3a2a7b8e9f10' });
    await rm(mid2!);
    await other.finish();
    await expectProblem(top2!, top2!, /^parent "\.\/disk-01\.vhd" has uuid 0b0a5f3e-6c1d-4a57-9d44-3a2a7b8e9f10, the header expects [0-9a-f-]{36}$/);

    const [top3] = await damaged(0, (f) => rewriteHeader(f, (h) => ({ ...h, parentUnicodeName: '/etc/passwd' })));
    await expectProblem(top3!, top3!, /parent name "\/etc\/passwd" is absolute/);
  });

  it('names the disk whose parent link loops back into the chain', async () => {
    const [top, mid] = await damaged(1, (f) => rewriteHeader(f, (h) => ({ ...h, parentUnicodeName: './disk-02.vhd' })));
    // mid now names the top (disk-02) as its parent.
    await expectProblem(top!, mid!, /parent "\.\/disk-02\.vhd" is already in the chain: the chain loops/);
  });

  it('accepts the uuid mismatch of a merge in its footer step only when the state file says so, with a note', async () => {
    const [top, mid, base] = await damaged(1);
    const midUuid = chain.uuids[1]!;
    // The merge of mid into base reached its footer step: base carries mid's uuid.
    const f = await open(base!, 'r+');
    try {
      const buf = await readAt(f, 0, FOOTER_SIZE);
      const footer = encodeFooter({ ...decodeFooter(buf), uuid: midUuid });
      const size = (await f.stat()).size;
      await f.write(footer, 0, FOOTER_SIZE, 0);
      await f.write(footer, 0, FOOTER_SIZE, size - FOOTER_SIZE);
    } finally {
      await f.close();
    }
    await expectProblem(top!, mid!, /parent "\.\/disk-00\.vhd" has uuid .* the header expects/);
    const now = new Date().toISOString();
    const folder = base!.slice(0, base!.lastIndexOf('/'));
    await writeMergeState(folder, {
      version: 1,
      child: 'disk-01.vhd',
      parent: 'disk-00.vhd',
      childUuid: midUuid,
      parentUuid: chain.uuids[2]!,
      step: 'footer',
      nextBlock: 6,
      blocksMerged: 3,
      totalBlocks: 3,
      startedAt: now,
      updatedAt: now,
    });
    const report = await checkVhdChain(top!);
    assert.ok(report.ok, JSON.stringify(report.problem));
    assert.equal(report.notes.length, 1);
    assert.match(report.notes[0]!, /disk-01\.vhd: the merge into disk-00\.vhd was interrupted \(step footer\)/);

    await writeFile(join(folder, '.disk-00.vhd.merge.json'), '{"version": 1');
    await expectProblem(top!, join(folder, '.disk-00.vhd.merge.json'), /^merge state is not JSON/);
  });

  it('names files that are not VHDs, too small, or missing', async () => {
    const junk = join(dir, 'junk.vhd');
    await writeFile(junk, Buffer.alloc(8192, 7));
    await expectProblem(junk, junk, /^footer at offset 7680: bad cookie/);
    const tiny = join(dir, 'tiny.vhd');
    await writeFile(tiny, Buffer.alloc(100));
    await expectProblem(tiny, tiny, /^100 bytes is too small for a dynamic VHD/);
    await expectProblem(join(dir, 'nope.vhd'), join(dir, 'nope.vhd'), /^cannot open: ENOENT/);
  });
});

async function readAt(f: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  await f.read(buf, 0, length, position);
  return buf;
}

async function rewriteHeader(f: FileHandle, change: (h: ReturnType<typeof decodeHeader>) => ReturnType<typeof decodeHeader>): Promise<void> {
  const header = decodeHeader(await readAt(f, 512, 1024), SIZE);
  await f.write(encodeHeader(change(header)), 0, 1024, 512);
}
