// What `vhd info` reports, in-process: the facts of a differencing disk, the aligned table, and a
// warning when the file is readable only through its footer copy at 0.
import assert from 'node:assert/strict';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DiskType } from '../format/index.js';
import { VhdFile } from '../vhd-file.js';
import { VhdWriter } from '../vhd-writer.js';
import { describeVhd, formatVhdInfo } from './vhd-info.js';

const MiB = 1024 * 1024;
const PARENT = '0b0a5f3e-6c1d-4a57-9d44-3a2a7b8e9f10';
const CHILD = '1c1b6f4f-7d2e-4b68-8e55-4b3b8c9fa021';

describe('describeVhd / formatVhdInfo', () => {
  let dir: string;
  let path: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-info-'));
    path = join(dir, 'child.vhd');
    const writer = await VhdWriter.create({
      path,
      diskType: DiskType.Differencing,
      currentSize: 9 * MiB,
      uuid: CHILD,
      parent: { uuid: PARENT, timestamp: 0, relativeName: './parent.vhd' },
      date: new Date('2026-01-02T03:04:05Z'),
    });
    for (const i of [0, 1, 2, 4]) await writer.writeBlock(i, Buffer.alloc(2 * MiB, i + 1));
    await writer.finish();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('describes a differencing disk and prints it as an aligned table', async () => {
    const vhd = await VhdFile.open(path);
    try {
      const info = describeVhd(vhd, { blocks: true });
      assert.deepEqual(
        { ...info, fileSize: undefined },
        {
          path,
          type: 'differencing',
          virtualSize: 9 * MiB,
          fileSize: undefined,
          blockSize: 2 * MiB,
          blockCount: 5,
          allocatedBlocks: 4,
          uuid: CHILD,
          timestamp: '2026-01-02T03:04:05.000Z',
          creator: 'dchn',
          parentUuid: PARENT,
          parentName: './parent.vhd',
          trailingFooterProblem: null,
          blocks: '0-2,4',
        },
      );
      const table = formatVhdInfo(info);
      assert.match(table, /^allocated blocks  4 of 5 \(80\.0%\)$/m);
      assert.match(table, /^parent name       \.\/parent\.vhd$/m);
      assert.match(table, /^blocks            0-2,4$/m);
      assert.doesNotMatch(table, /warning/);
    } finally {
      await vhd.close();
    }
  });

  it('warns when the trailing footer is damaged', async () => {
    const f = await open(path, 'r+');
    const { size } = await f.stat();
    await f.write(Buffer.from('XXXXXXXX'), 0, 8, size - 512);
    await f.close();
    const vhd = await VhdFile.open(path);
    try {
      const info = describeVhd(vhd);
      assert.match(info.trailingFooterProblem ?? '', /bad cookie/);
      assert.match(formatVhdInfo(info), /^warning +.*bad cookie.*\(run "deltachain vhd check"\)$/m);
    } finally {
      await vhd.close();
    }
  });
});
