// `deltachain vhd …` driven as an operator would: the real bin/deltachain.mjs in a child process,
// on real files. Conversions are checked against the raw images they came from; `check` must exit
// 1 with one line "FILE: reason"; refused conversions must leave nothing behind. The many ways a
// file can be damaged are covered in-process by shared/vhd/tools/check-vhd-chain.test.ts — each
// spawn here costs a second of start-up, so this file checks the command-line contract.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeMergeState } from '../shared/vhd/merge-state.js';
import { rawToVhd } from '../shared/vhd/tools/raw-to-vhd.js';
import { VhdFile } from '../shared/vhd/vhd-file.js';
import { runDeltachain } from './support/vhd-cli.js';
import { assertSameBytes } from './support/vhd-oracles.js';
import { MiB, mutateRawImage, writeRawImage } from './support/vhd-raw-image.js';

const SIZE = 24 * MiB;
const DEPTH = 5;

describe('deltachain vhd (CLI)', () => {
  let dir: string;
  const raws: string[] = [];
  const vhds: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-vhd-cli-'));
    for (let g = 0; g < DEPTH; g++) {
      const raw = join(dir, `gen-${g}.raw`);
      if (g === 0) await writeRawImage(raw, { size: SIZE, seed: 'cli' });
      else {
        await copyFile(raws[g - 1]!, raw);
        await mutateRawImage(raw, { seed: `cli-${g}`, changes: 3 });
      }
      raws.push(raw);
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('from-raw writes a dynamic VHD, and a differencing one on top of a depth-4 chain; to-raw reads the depth-5 chain back', async () => {
    const base = join(dir, 'gen-0.vhd');
    const made = await runDeltachain(['vhd', 'from-raw', raws[0]!, base]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /^.*gen-0\.vhd: dynamic VHD, \d+ of 12 blocks stored, .*, uuid [0-9a-f-]{36}\n$/);
    vhds.push(base);
    for (let g = 1; g < DEPTH - 1; g++) {
      vhds.push((await rawToVhd({ rawPath: raws[g]!, outPath: join(dir, `gen-${g}.vhd`), parentPath: vhds[g - 1] })).path);
    }
    const head = join(dir, `gen-${DEPTH - 1}.vhd`);
    const child = await runDeltachain(['vhd', 'from-raw', raws[DEPTH - 1]!, head, '--parent', vhds[DEPTH - 2]!]);
    assert.equal(child.code, 0, child.stderr);
    assert.match(child.stdout, /differencing VHD, [0-3] of 12 blocks stored/);
    vhds.push(head);

    const out = join(dir, 'back.raw');
    const back = await runDeltachain(['vhd', 'to-raw', head, out]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /24 MiB \(25165824 bytes\) from 5 disks/);
    await assertSameBytes(out, raws[DEPTH - 1]!, 'to-raw of the depth-5 chain');
  });

  it('info prints an aligned table, and --json the same facts in bytes', async () => {
    const table = await runDeltachain(['vhd', 'info', vhds[1]!]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^type +differencing$/m);
    assert.match(table.stdout, /^virtual size +24 MiB \(25165824 bytes\)$/m);
    assert.match(table.stdout, /^parent name +\.\/gen-0\.vhd$/m);
    assert.match(table.stdout, /^parent uuid +[0-9a-f-]{36}$/m);
    const columns = new Set(table.stdout.trimEnd().split('\n').map((line) => /^\S+(?: \S+)* {2,}/.exec(line)![0].length));
    assert.equal(columns.size, 1, 'values start in one column');
    const json = await runDeltachain(['vhd', 'info', '--json', '--blocks', vhds[1]!]);
    assert.equal(json.code, 0, json.stderr);
    const info = JSON.parse(json.stdout);
    assert.equal(info.type, 'differencing');
    assert.equal(info.virtualSize, SIZE);
    assert.equal(info.blockSize, 2 * MiB);
    assert.equal(info.blockCount, 12);
    assert.equal(info.parentName, './gen-0.vhd');
    assert.ok(info.allocatedBlocks >= 1 && info.allocatedBlocks <= 3, `${info.allocatedBlocks} blocks`);
    assert.match(info.blocks, /^\d+(-\d+)?(,\d+(-\d+)?)*$/);
    assert.equal(info.fileSize, (await stat(vhds[1]!)).size);
  });

  it('check exits 0 on a sound chain, reports an unfinished merge as a note (--json); exits 1 with one line naming the broken link', async () => {
    const ok = await runDeltachain(['vhd', 'check', vhds[DEPTH - 1]!]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ok \(5 disks in the chain, \d+ blocks read, no checksums to compare\)/);

    const now = new Date().toISOString();
    const [child, parent] = await Promise.all([VhdFile.open(vhds[1]!), VhdFile.open(vhds[0]!)]);
    const uuids = { childUuid: child.footer.uuid, parentUuid: parent.footer.uuid };
    await Promise.all([child.close(), parent.close()]);
    await writeMergeState(dir, {
      version: 1,
      child: 'gen-1.vhd',
      parent: 'gen-0.vhd',
      ...uuids,
      step: 'blocks',
      nextBlock: 0,
      blocksMerged: 0,
      totalBlocks: 1,
      startedAt: now,
      updatedAt: now,
    });
    const noted = await runDeltachain(['vhd', 'check', '--json', vhds[1]!]);
    await rm(join(dir, '.gen-0.vhd.merge.json'));
    assert.equal(noted.code, 0, noted.stderr);
    const report = JSON.parse(noted.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.problem, null);
    assert.deepEqual(report.chain.map((d: { uuid: string }) => d.uuid), [uuids.childUuid, uuids.parentUuid]);
    assert.equal(report.notes.length, 1);
    assert.match(report.notes[0], /gen-1\.vhd: the merge into gen-0\.vhd was interrupted \(step blocks\); run "deltachain vhd merge /);

    const sub = await mkdtemp(join(dir, 'orphan-'));
    const orphan = join(sub, 'gen-2.vhd');
    await copyFile(vhds[2]!, orphan);
    const bad = await runDeltachain(['vhd', 'check', orphan]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, `${orphan}: parent "./gen-1.vhd" not found (looked for ${join(sub, 'gen-1.vhd')})\n`);
  });

  it('refuses a raw image of partial sectors, an existing output, a raw image smaller than its parent — and changes nothing', async () => {
    const sub = await mkdtemp(join(dir, 'refuse-'));
    const odd = join(sub, 'odd.raw');
    await writeFile(odd, Buffer.alloc(4096 + 100, 1));
    const r1 = await runDeltachain(['vhd', 'from-raw', odd, join(sub, 'odd.vhd')]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /^deltachain: .*odd\.raw: 4196 bytes is not a positive multiple of 512/);

    const existing = join(sub, 'existing.vhd');
    await writeFile(existing, 'keep me');
    const r2 = await runDeltachain(['vhd', 'from-raw', raws[0]!, existing]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /existing\.vhd already exists; remove it or pass --force/);

    const small = join(sub, 'small.raw');
    await writeFile(small, Buffer.alloc(MiB));
    const r4 = await runDeltachain(['vhd', 'from-raw', small, join(sub, 'small.vhd'), '--parent', vhds[0]!]);
    assert.equal(r4.code, 1);
    assert.match(r4.stderr, /small\.raw: 1048576 bytes is smaller than the parent chain's 25165824/);

    const r5 = await runDeltachain(['vhd', 'info', join(sub, 'missing.vhd')]);
    assert.equal(r5.code, 1);
    assert.match(r5.stderr, /^deltachain: ENOENT: no such file or directory, open '.*missing\.vhd'\n$/);

    assert.deepEqual((await readdir(sub)).sort(), ['existing.vhd', 'odd.raw', 'small.raw']);
    assert.equal((await stat(existing)).size, 7);
  });
});
