// A merge killed with SIGKILL at random moments, for real: a 200 MiB child (2 MiB blocks, some
// partially marked, larger than its parent so the parent's BAT grows) is merged by a separate
// process (test/support/merge-process.ts) that is killed when its progress reaches a random block,
// after a random extra delay, several times in a row. After every kill the chain read through a
// grandchild must have exactly the content it had before the merge (block digests); after the last
// run the chain must be one disk shorter, and qemu-img must read the merged dynamic disk as the
// child's chain read before. The seed is printed on failure, so a failing schedule can be replayed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ChainReader } from '../shared/vhd/chain-reader.js';
import { DiskType, markSector } from '../shared/vhd/format/index.js';
import { findInterruptedMerges } from '../shared/vhd/merge.js';
import { readMergeState } from '../shared/vhd/merge-state.js';
import { VhdWriter } from '../shared/vhd/vhd-writer.js';
import { uuidFor } from './support/merge-fixtures.js';
import { qemuVhdToRaw } from './support/vhd-oracles.js';
import { PROJECT_ROOT } from './support/vhd-cli.js';
import { SeededBytes } from './support/vhd-raw-image.js';

const MiB = 1024 * 1024;
const BLOCK = 2 * MiB;
const SEED = process.env.MERGE_KILL_SEED ?? String(Date.now() % 100000);
const KILLS = 6;
const SCRIPT = join(PROJECT_ROOT, 'test/support/merge-process.ts');

interface Layer {
  name: string;
  size: number;
  /** [index, partially marked] */
  blocks: Array<[number, boolean]>;
}

// Parent: 128 MiB, one BAT sector; child: 320 MiB, 100 blocks (200 MiB), so the BAT grows by a sector.
const layers: Layer[] = [
  { name: 'full.vhd', size: 128 * MiB, blocks: Array.from({ length: 40 }, (_, i): [number, boolean] => [i + (i >> 2), false]) },
  { name: 'delta-1.vhd', size: 320 * MiB, blocks: Array.from({ length: 100 }, (_, i): [number, boolean] => [Math.floor(i * 1.5) + (i % 2), i % 9 === 4]) },
  { name: 'delta-2.vhd', size: 320 * MiB, blocks: [[3, false], [60, true], [150, false]] },
];

async function writeLayers(dir: string): Promise<void> {
  const random = new SeededBytes('merge-kill');
  for (const [n, layer] of layers.entries()) {
    const parent = n === 0 ? undefined : { uuid: uuidFor(n), timestamp: 0, relativeName: `./${layers[n - 1]!.name}` };
    const writer = await VhdWriter.create({
      path: join(dir, layer.name),
      diskType: parent ? DiskType.Differencing : DiskType.Dynamic,
      currentSize: layer.size,
      uuid: uuidFor(n + 1),
      parent,
    });
    for (const [index, partial] of layer.blocks) {
      let bitmap: Buffer | undefined;
      if (partial) {
        bitmap = Buffer.alloc(writer.bitmapSize);
        for (let page = 0; page < BLOCK / 4096; page += 1 + random.int(3)) for (let s = 0; s < 8; s++) markSector(bitmap, page * 8 + s);
      }
      await writer.writeBlock(index, random.bytes(BLOCK), bitmap);
    }
    await writer.finish();
  }
}

/** sha256 of each block of what the chain ending at `path` reads, and its depth. */
async function chainDigests(path: string): Promise<{ digests: string[]; depth: number }> {
  const chain = await ChainReader.open(path);
  try {
    const digests: string[] = [];
    for (let i = 0; i < chain.blockCount; i++) digests.push(createHash('sha256').update(await chain.readBlock(i)).digest('hex'));
    return { digests, depth: chain.disks.length };
  } finally {
    await chain.close();
  }
}

async function rawDigests(path: string, blockCount: number): Promise<string[]> {
  const handle = await open(path);
  const buf = Buffer.alloc(BLOCK);
  try {
    const out: string[] = [];
    for (let i = 0; i < blockCount; i++) {
      buf.fill(0);
      await handle.read(buf, 0, BLOCK, i * BLOCK);
      out.push(createHash('sha256').update(buf).digest('hex'));
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** When to kill: once progress reaches a block, or at a named crash point; then after a delay. */
type Trigger = { block: number } | { point: string };

function fires(trigger: Trigger, line: string): boolean {
  if ('point' in trigger) return line === `point ${trigger.point}`;
  const match = /^progress (\d+) \d+$/.exec(line);
  return match !== null && Number(match[1]) >= trigger.block;
}

/** Runs the merge process; kills it `delayMs` after `trigger` fires (never when undefined). */
function runMerge(child: string, trigger: Trigger | undefined, delayMs: number): Promise<{ killed: boolean; finished: boolean }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, child, '8'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let armed = false;
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      if (armed || trigger === undefined || !lines.some((line) => fires(trigger, line))) return;
      armed = true;
      setTimeout(() => proc.kill('SIGKILL'), delayMs);
    });
    proc.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killed: true, finished: false });
      else if (code === 0) resolve({ killed: false, finished: true });
      else reject(new Error(`merge process exited with ${code}: ${stderr}`));
    });
  });
}

describe(`merge killed with SIGKILL (seed ${SEED}; replay with MERGE_KILL_SEED=${SEED})`, () => {
  let dir: string;
  let expectedHead: string[];
  let expectedChild: string[];
  const path = (n: number): string => join(dir, layers[n]!.name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-merge-kill-'));
    await writeLayers(dir);
    expectedHead = (await chainDigests(path(2))).digests;
    expectedChild = (await chainDigests(path(1))).digests;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('leaves a chain that reads the same after every kill, and the next run finishes', async (t) => {
    const random = new SeededBytes(`kill:${SEED}`);
    const total = layers[1]!.blocks.length;
    // At the start (the BAT growth), at random blocks (ascending, so each run gets further), as the
    // footer step begins and as the rename is done; each after a random few milliseconds.
    const blocks = Array.from({ length: KILLS - 3 }, () => random.int(total - 20)).sort((a, b) => a - b);
    const schedule: Trigger[] = [{ point: 'started' }, ...blocks.map((block) => ({ block })), { point: 'footer-trailing' }, { point: 'renamed' }];
    let kills = 0;
    let finished = false;
    for (const [attempt, trigger] of schedule.entries()) {
      const killAt = JSON.stringify(trigger);
      const run = await runMerge(path(1), trigger, random.int(15));
      finished = run.finished;
      if (run.killed) kills++;
      const { digests, depth } = await chainDigests(path(2));
      assert.deepEqual(digests, expectedHead, `after kill ${attempt} (at ${killAt}) the chain reads differently`);
      const stateFile = existsSync(join(dir, `.${layers[0]!.name}.merge.json`));
      const state = await readMergeState(dir, layers[0]!.name);
      t.diagnostic(`run ${attempt}, kill at ${killAt}: ${run.killed ? 'killed' : 'finished'}; state ${state ? `${state.step}, next block ${state.nextBlock}` : 'none'}; ${depth} disks`);
      assert.deepEqual(await findInterruptedMerges(dir), stateFile ? [path(1)] : []);
      // Without a state file the merge either had not started (3 disks) or is complete (2 disks).
      if (!stateFile && depth === 2) finished = true;
      if (finished) break;
    }
    assert.ok(kills >= KILLS - 2, `only ${kills} kills landed before the merge finished`);
    if (!finished) assert.equal((await runMerge(path(1), undefined, 0)).finished, true);

    const { digests, depth } = await chainDigests(path(2));
    assert.equal(depth, 2);
    assert.deepEqual(digests, expectedHead);
    assert.equal(existsSync(path(0)), false);
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.')), [], 'state, lock or temporary left behind');
    const raw = join(dir, 'merged.raw');
    await qemuVhdToRaw(path(1), raw);
    assert.deepEqual(await rawDigests(raw, expectedChild.length), expectedChild, 'qemu-img reads the merged disk differently');
  });
});
