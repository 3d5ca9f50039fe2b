// Upload bandwidth limits of the host agent (agent/host/remote/bandwidth.ts, config
// `bandwidth.limits`): which limit holds when, and real uploads (RemoteStorage.putDisk to real
// storage servers over gRPC) held to a site-wide and a per-remote rate, the disks stored whole.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ChannelCredentials } from '@grpc/grpc-js';
import { bandwidthSchema } from '../agent/host/host-agent-config.js';
import { BandwidthLimits as UploadLimits, rateAt, type BandwidthLimit } from '../shared/bandwidth.js';
import { RemoteStorage } from '../agent/host/remote/remote-storage.js';
import { BLOCK, patternBlock, startStorageHarness, type StorageHarness } from './support/storage-harness.js';

const at = (hhmm: string): Date => new Date(`2026-12-05T${hhmm}:00`); // local time, as the limits read it
const mbit = (n: number): number => (n * 1e6) / 8;

describe('which bandwidth limit holds', () => {
  const limits: BandwidthLimit[] = [
    { mbit: 400 },
    { remote: 'offsite', mbit: 100 },
    { remote: 'offsite', mbit: 20, from: '08:00', to: '18:00' },
    { remote: 'night', mbit: 50, from: '22:00', to: '06:00' },
  ];

  test('all day, and a window replacing its scope while it holds', () => {
    assert.equal(rateAt(limits, undefined, at('12:00')), mbit(400));
    assert.equal(rateAt(limits, 'offsite', at('07:59')), mbit(100));
    assert.equal(rateAt(limits, 'offsite', at('08:00')), mbit(20));
    assert.equal(rateAt(limits, 'offsite', at('17:59')), mbit(20));
    assert.equal(rateAt(limits, 'offsite', at('18:00')), mbit(100));
  });

  test('a window past midnight; a remote without a limit is unlimited in its own scope', () => {
    assert.equal(rateAt(limits, 'night', at('23:30')), mbit(50));
    assert.equal(rateAt(limits, 'night', at('05:59')), mbit(50));
    assert.equal(rateAt(limits, 'night', at('06:00')), Infinity);
    assert.equal(rateAt(limits, 'local', at('12:00')), Infinity);
  });

  test('the config refuses a half window, a bad time and a zero rate, saying what to write', () => {
    const bad = [
      [{ uploadMbit: 10, from: '08:00' }, /give both from and to/],
      [{ uploadMbit: 10, from: '8:00', to: '18:00' }, /HH:MM/],
      [{ uploadMbit: 10, from: '08:00', to: '08:00' }, /empty window/],
      [{ uploadMbit: 0 }, /above 0 Mbit/],
    ] as const;
    for (const [limit, message] of bad) {
      const parsed = bandwidthSchema.safeParse({ limits: [limit] });
      assert.equal(parsed.success, false, JSON.stringify(limit));
      assert.match(JSON.stringify(parsed.error?.issues), message);
    }
    assert.deepEqual(bandwidthSchema.parse(undefined), { limits: [] });
  });
});

describe('uploads held to their limits', () => {
  let a: StorageHarness;
  let b: StorageHarness;
  before(async () => {
    [a, b] = await Promise.all([startStorageHarness(), startStorageHarness()]);
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  /** Uploads `blocks` pattern blocks as one disk of a new VM; the seconds it took. */
  async function upload(storage: RemoteStorage, blocks: number): Promise<number> {
    const started = performance.now();
    const disk = storage.putDisk({ backupId: '20261205T120000Z-bw', vmUuid: randomUUID(), diskKey: 'xvda', virtualSize: blocks * BLOCK, blockSize: BLOCK, footerUuid: randomUUID(), parentFooterUuid: '', timestampMs: Date.now() });
    for (let i = 0; i < blocks; i++) await disk.writeBlock(i, Buffer.alloc(0), patternBlock(1, i));
    const result = await disk.finish();
    assert.equal(result.blockCount, blocks);
    return (performance.now() - started) / 1000;
  }

  const remote = (h: StorageHarness, remoteId: string, limits?: UploadLimits): RemoteStorage =>
    new RemoteStorage({ remoteId, address: h.server.address, credentials: ChannelCredentials.createInsecure() }, { uploadWindow: 2, callTimeoutMs: 5000, uploadLimits: limits });

  test('a remote limited to 80 Mbit/s takes its time; one without a limit beside it waits for no bucket', async () => {
    const limits = new UploadLimits([{ remote: 'slow', mbit: 80 }]);
    const slow = remote(a, 'slow', limits);
    const fast = remote(b, 'fast', limits);
    try {
      const [slowSec, fastSec] = await Promise.all([upload(slow, 12), upload(fast, 12)]);
      const floor = (12 * BLOCK) / mbit(80) - 0.1; // less the 100 ms burst
      assert.ok(slowSec >= floor, `24 MiB at 80 Mbit/s in ${slowSec.toFixed(2)} s (at least ${floor.toFixed(2)})`);
      assert.ok(slowSec < floor * 2 + 1, `24 MiB at 80 Mbit/s in ${slowSec.toFixed(2)} s: slower than its limit`);
      // The other remote's uploads wait for no bucket (its time depends on the machine's load, not asserted).
      assert.equal(limits.forRemote('fast'), undefined);
      assert.ok(fastSec > 0);
    } finally {
      slow.close();
      fast.close();
    }
  });

  test('a site-wide limit holds two remotes together', async () => {
    const limits = new UploadLimits([{ mbit: 160 }]);
    const one = remote(a, 'one', limits);
    const two = remote(b, 'two', limits);
    try {
      const started = performance.now();
      await Promise.all([upload(one, 10), upload(two, 10)]);
      const seconds = (performance.now() - started) / 1000;
      const floor = (20 * BLOCK) / mbit(160) - 0.1;
      assert.ok(seconds >= floor, `40 MiB to two remotes under 160 Mbit/s together in ${seconds.toFixed(2)} s (at least ${floor.toFixed(2)})`);
      assert.ok(seconds < floor * 2 + 1, `40 MiB in ${seconds.toFixed(2)} s: slower than the limit`);
    } finally {
      one.close();
      two.close();
    }
  });
});
