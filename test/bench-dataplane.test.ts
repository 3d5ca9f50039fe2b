// The data-plane harness of the benchmark suite (test/bench/deltachain) on a 64 MiB lab disk:
// real lab pool, storage agent and host agent processes; a full and two deltas after guest
// writes, each measured; the newest restored equal to the disk at that backup.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDeltachainStack, type DeltachainStack } from './bench/deltachain/index.js';

const MiB = 1024 * 1024;

describe('bench data plane: Deltachain stack of real processes', { timeout: 60_000 }, () => {
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
});
