// `deltachain vhd merge` as an operator runs it (the real binary in a child process): a merge, the
// finishing of the interrupted merges of a folder, and a refusal as one line on stderr with exit 1.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runDeltachain } from '../../../test/support/vhd-cli.js';
import { buildLayers, readChain, type MergeFixture } from '../../../test/support/merge-fixtures.js';
import { mergeVhd } from '../merge.js';
import { MergeInjectedFailure } from '../merge-run.js';

const BS = 64 * 1024;

describe('deltachain vhd merge', () => {
  let dir: string;
  let f: MergeFixture;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-merge-cli-'));
    f = await buildLayers(
      dir,
      [
        { name: 'a.vhd', size: 8 * BS, blocks: [{ index: 0 }, { index: 1 }] },
        { name: 'b.vhd', size: 8 * BS, blocks: [{ index: 1 }, { index: 2 }, { index: 3 }] },
        { name: 'c.vhd', size: 8 * BS, blocks: [{ index: 3 }, { index: 4 }] },
      ],
      { blockSize: BS, seed: 'cli' },
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses a dynamic disk with one line and exit 1', async () => {
    const r = await runDeltachain(['vhd', 'merge', f.paths[0]!]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^deltachain: .*a\.vhd is not a differencing VHD/);
    assert.equal(r.stdout, '');
  });

  it('finishes the interrupted merges of a folder', async () => {
    await assert.rejects(mergeVhd(f.paths[1]!, { failAfterBlocks: 2 }), MergeInjectedFailure);
    const r = await runDeltachain(['vhd', 'merge', '--interrupted', '--json', dir]);
    assert.equal(r.code, 0, r.stderr);
    const results = JSON.parse(r.stdout) as Array<{ path: string; parentPath: string; resumed: boolean; blocksMerged: number }>;
    assert.deepEqual(results.map((x) => [x.path, x.parentPath, x.resumed, x.blocksMerged]), [[f.paths[1], f.paths[0], true, 3]]);
  });

  it('merges a child into its parent, which takes its name', async () => {
    const r = await runDeltachain(['vhd', 'merge', f.paths[2]!]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${f.paths[2]}: merged into its parent ${f.paths[1]} (2 blocks, 2 copied now); the parent now has this name\n`);
    const { data, depth } = await readChain(f.paths[2]!);
    assert.equal(depth, 1);
    assert.ok(data.equals(f.model(2)));
  });
});
