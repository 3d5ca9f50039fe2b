// Interop with independent VHD implementations (vhd-format.md): VHDs written by qemu-img are read
// correctly by our reader, tools and stream parser; our dynamic VHDs read identically through
// qemu-img; our differencing chains (depth ≥ 5, whole and partial blocks) read identically through
// libvhdi with the parents set. Expected content always comes from a raw image or the chain
// builder's model, never from our own reader.
import assert from 'node:assert/strict';
import { copyFile, open, stat, truncate } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChainReader } from '../shared/vhd/chain-reader.js';
import { DiskType } from '../shared/vhd/format/index.js';
import { parseVhdStream } from '../shared/vhd/stream-parser.js';
import { checkVhdChain } from '../shared/vhd/tools/check-vhd-chain.js';
import { rawToVhd } from '../shared/vhd/tools/raw-to-vhd.js';
import { vhdToRaw } from '../shared/vhd/tools/vhd-to-raw.js';
import { VhdFile } from '../shared/vhd/vhd-file.js';
import { buildChain } from './support/vhd-chain-builder.js';
import { assertSameBytes, libvhdiChainToRaw, qemuRawToVhd, qemuVhdToRaw } from './support/vhd-oracles.js';
import { MiB, mutateRawImage, writeRawImage } from './support/vhd-raw-image.js';
import { withVhdTempDir } from './support/vhd-temp-dir.js';

describe('VHD interop: qemu-img writes, we read', () => {
  it('reads a qemu-img dynamic VHD (exact size, force_size) as the raw image it came from', async () => {
    await withVhdTempDir(async (dir) => {
      const raw = join(dir, 'source.raw');
      await writeRawImage(raw, { size: 30 * MiB + 7 * 512, seed: 'qemu-1' });
      const vhd = join(dir, 'qemu.vhd');
      await qemuRawToVhd(raw, vhd, { forceSize: true });

      const file = await VhdFile.open(vhd);
      try {
        assert.equal(file.footer.creatorApplication, 'qem2');
        assert.equal(file.currentSize, 30 * MiB + 7 * 512);
      } finally {
        await file.close();
      }
      const report = await checkVhdChain(vhd);
      assert.equal(report.problem, undefined);
      assert.ok(report.ok);

      const out = join(dir, 'ours.raw');
      await vhdToRaw({ vhdPath: vhd, outPath: out });
      await assertSameBytes(out, raw, 'our reading of the qemu-img VHD');
      await assertStreamMatches(vhd, raw);
    });
  });

  it('reads a qemu-img VHD with a CHS-rounded size at its footer current_size, as qemu-img does', async () => {
    await withVhdTempDir(async (dir) => {
      const raw = join(dir, 'source.raw');
      await writeRawImage(raw, { size: 10 * MiB, seed: 'qemu-2' });
      const vhd = join(dir, 'qemu.vhd');
      await qemuRawToVhd(raw, vhd, { forceSize: false });
      const file = await VhdFile.open(vhd);
      const size = file.currentSize;
      await file.close();
      assert.ok(size >= 10 * MiB, `rounded size ${size}`);

      const ours = join(dir, 'ours.raw');
      await vhdToRaw({ vhdPath: vhd, outPath: ours });
      const theirs = join(dir, 'qemu.raw');
      await qemuVhdToRaw(vhd, theirs);
      await assertSameBytes(ours, theirs, 'our reading vs qemu-img reading');
      const padded = join(dir, 'padded.raw');
      await copyFile(raw, padded);
      await truncate(padded, size);
      await assertSameBytes(ours, padded, 'our reading vs the zero-padded source');
    });
  });
});

describe('VHD interop: we write, qemu-img reads', () => {
  for (const [label, blockSize] of [
    ['2 MiB blocks', undefined],
    ['512 KiB blocks', 512 * 1024],
  ] as const) {
    it(`writes dynamic VHDs (${label}) that qemu-img reads as the source raw image`, async () => {
      await withVhdTempDir(async (dir) => {
        const raw = join(dir, 'source.raw');
        await writeRawImage(raw, { size: 28 * MiB + 512, seed: `ours-${label}` });
        const vhd = join(dir, 'ours.vhd');
        const result = await rawToVhd({ rawPath: raw, outPath: vhd, blockSize });
        assert.ok(result.blocks < result.blockCount, 'zero blocks are left out');
        const out = join(dir, 'qemu.raw');
        await qemuVhdToRaw(vhd, out);
        await assertSameBytes(out, raw, 'qemu-img reading our VHD');
      });
    });
  }
});

describe('VHD interop: our differencing chains through libvhdi', () => {
  it('round-trips 6 generations raw → VHD chain → raw, identical through our reader, libvhdi and qemu-img (base)', async () => {
    await withVhdTempDir(async (dir) => {
      const size = 32 * MiB;
      const generations: string[] = [];
      const chain: string[] = [];
      for (let g = 0; g < 6; g++) {
        const raw = join(dir, `gen-${g}.raw`);
        if (g === 0) await writeRawImage(raw, { size, seed: 'chain-round-trip' });
        else {
          await copyFile(generations[g - 1]!, raw);
          await mutateRawImage(raw, { seed: `chain-round-trip-${g}`, changes: 4 });
        }
        generations.push(raw);
        const vhd = join(dir, `gen-${g}.vhd`);
        const result = await rawToVhd({ rawPath: raw, outPath: vhd, parentPath: chain[0] });
        if (g > 0) assert.ok(result.blocks <= 4, `generation ${g} stores only changed blocks (${result.blocks})`);
        chain.unshift(vhd);
      }
      await assertSameBytes(await qemuRead(dir, chain.at(-1)!), generations[0]!, 'qemu-img reading the dynamic base');
      for (let depth = 1; depth <= chain.length; depth++) {
        const head = chain[chain.length - depth]!;
        const expected = generations[depth - 1]!;
        const ours = join(dir, `ours-${depth}.raw`);
        await vhdToRaw({ vhdPath: head, outPath: ours });
        await assertSameBytes(ours, expected, `our reading of the chain of depth ${depth}`);
        const theirs = join(dir, `libvhdi-${depth}.raw`);
        const mediaSize = await libvhdiChainToRaw(chain.slice(chain.length - depth), theirs);
        assert.equal(mediaSize, size);
        await assertSameBytes(theirs, expected, `libvhdi reading the chain of depth ${depth}`);
      }
      const report = await checkVhdChain(chain[0]!);
      assert.ok(report.ok, JSON.stringify(report.problem));
      assert.equal(report.disks.length, 6);
    });
  });

  it('reads chains with partial blocks (whole 4 KiB pages marked) as the model says, as libvhdi does', async () => {
    await withVhdTempDir(async (dir) => {
      const built = await buildChain({ dir, size: 20 * MiB + 5 * 512, depth: 5, seed: 'partial-pages', partialPages: true });
      const ours = join(dir, 'ours.raw');
      await vhdToRaw({ vhdPath: built.paths[0]!, outPath: ours });
      await assertSameBytes(ours, built.expectedRaw, 'our reading of the partial-block chain');
      const theirs = join(dir, 'libvhdi.raw');
      await libvhdiChainToRaw(built.paths, theirs);
      await assertSameBytes(theirs, built.expectedRaw, 'libvhdi reading the partial-block chain');
      const head = await ChainReader.open(built.paths[0]!);
      try {
        assert.equal(head.disks.length, 5);
        assert.equal(head.disks.at(-1)!.footer.diskType, DiskType.Dynamic);
      } finally {
        await head.close();
      }
    });
  });
});

async function qemuRead(dir: string, vhd: string): Promise<string> {
  const out = join(dir, `qemu-${(await stat(vhd)).ino}.raw`);
  await qemuVhdToRaw(vhd, out);
  return out;
}

/** Our stream parser reads the file's blocks as the raw image holds them. */
async function assertStreamMatches(vhd: string, raw: string): Promise<void> {
  const parsed = await parseVhdStream(createReadStream(vhd), { where: vhd });
  const image = await open(raw);
  try {
    const blockSize = parsed.header.blockSize;
    for await (const block of parsed.blocks()) {
      const expected = Buffer.alloc(blockSize);
      await image.read(expected, 0, blockSize, block.index * blockSize);
      assert.ok(block.data.equals(expected), `${vhd}: streamed block ${block.index}`);
    }
  } finally {
    await image.close();
  }
}
