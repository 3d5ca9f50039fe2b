// The data-plane harness of the benchmark suite (test/bench/deltachain) on a 64 MiB lab disk:
// real lab pool, storage agent and host agent processes; a full and two deltas after guest
// writes, each measured; the newest restored equal to the disk at that backup; then the host agent
// restarted for the CBT path, whose deltas read over NBD and leave no reference data on the pool.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDeltachainStack, type DeltachainStack } from './bench/deltachain/index.js';
import { planWrites } from '../lab/pool/workload/write-plan.js';
import { CBT_EXTENT, touchedExtents } from './bench/workload/touched-extents.js';

const MiB = 1024 * 1024;

describe('bench data plane: Deltachain stack of real processes', { timeout: 180_000 }, () => {
  let folder: string;
  let stack: DeltachainStack;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'dc-bench-dataplane-'));
    stack = await startDeltachainStack({ folder, diskBytes: 64 * MiB, fill: 50, content: 'random', seed: 5 });
  });
  after(async () => {
    await stack?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('measures a full, two deltas and a restore of the newest', async () => {
    const full = await stack.fullBackup();
    assert.equal(full.mode, 'full');
    assert.ok(full.blocks > 0 && full.bytesSent > 0, 'the full sent blocks');
    assert.ok(full.bytesAdded > 0, 'the remote grew');
    assert.ok(full.cpuSec > 0, 'the agents used CPU');
    assert.ok(full.bytesReadFromSource > 0, 'the lab pool read the disk');
    for (const seed of [11, 12]) {
      const written = await stack.write({ pattern: 'clustered', percent: 5, seed });
      assert.ok(written.blocks > 0);
      const delta = await stack.incrementalBackup();
      assert.equal(delta.mode, 'delta');
      assert.ok(delta.blocks > 0 && delta.blocks < full.blocks, `a delta of the changed blocks (${delta.blocks} of ${full.blocks})`);
      assert.ok(delta.bytesAdded > 0 && delta.cpuSec > 0);
    }
    assert.equal(stack.chainDepth(), 3);
    const restore = await stack.restoreNewest();
    assert.equal(restore.digestMatches, true, 'the restored disk equals the disk at the newest backup');
    assert.equal(restore.chainDepth, 3);
    assert.ok(restore.bytes > 0 && restore.cpuSec > 0);
    const peaks = await stack.peakRss();
    assert.deepEqual(Object.keys(peaks).sort(), ['hostAgent', 'labPool', 'storageAgent']);
    for (const mib of Object.values(peaks)) assert.ok(mib > 10);
    await stack.resetPeaks();
  });

  it('drops older chains and keeps one reference snapshot on the lab', async () => {
    await stack.fullBackup();
    assert.equal(stack.chainDepth(), 1);
    await stack.dropOlderChains();
    const committed = await readdir(join(folder, 'remote', 'vms', stack.vmUuid, 'backups'));
    assert.equal(committed.filter((f) => f.endsWith('.json')).length, 1, 'only the newest chain stays on the remote');
    const restore = await stack.restoreNewest();
    assert.equal(restore.digestMatches, true);
    const state = (await (await fetch(new URL('/lab/state', stack.lab.url), { headers: { authorization: `Basic ${Buffer.from(`${stack.lab.user}:${stack.lab.password}`).toString('base64')}` } })).json()) as { vms: { isSnapshot: boolean; name: string }[] };
    assert.equal(state.vms.filter((v) => v.isSnapshot).length, 1, 'one reference snapshot');
    assert.equal(state.vms.filter((v) => !v.isSnapshot).length, 1, 'the restored VMs were removed');
  });

  it('switches the host agent to the CBT path: deltas read over NBD, reference data purged, restore checked', async () => {
    await stack.write({ pattern: 'clustered', percent: 5, seed: 20 });
    await stack.incrementalBackup();
    const withReferences = await stack.snapshotDataBytes();
    assert.ok(withReferences > 0, `the VHD-export path keeps its reference's data (${withReferences} bytes)`);
    await stack.useChangedBlocks('cbt');
    await stack.write({ pattern: 'clustered', percent: 1, seed: 21 });
    const warm = await stack.incrementalBackup();
    assert.equal(warm.readMethod, 'vhd-export', 'the first reference had CBT off');
    assert.notEqual(warm.fallbackReason, '');
    const written = await stack.write({ pattern: 'clustered-64k', percent: 2, seed: 22 });
    const extents = touchedExtents(planWrites({ pattern: 'clustered-64k', virtualSize: 64 * MiB, percent: 2, seed: 22 }));
    const delta = await stack.incrementalBackup();
    assert.equal(delta.readMethod, 'cbt-nbd', `read over CBT + NBD (fallback: ${delta.fallbackReason || 'none'})`);
    assert.ok(written.bytes > 0 && delta.bytesSent > 0 && delta.bytesSent < 2 * extents * CBT_EXTENT, `sent ${delta.bytesSent} bytes for ${extents} extents of 64 KiB`);
    assert.equal(await stack.snapshotDataBytes(), 0, 'the reference was purged to cbt_metadata');
    const restore = await stack.restoreNewest();
    assert.equal(restore.digestMatches, true, 'the restore equals the live disk the purged reference was taken of');
  });
});
