// Kept (parked) uploads on their own, with a real DiskReceiver writing a real temporary: one that
// nobody resumes is removed when its time is up, and another caller — or the same caller with a
// different header — cannot take it up: the attempt gets nothing and the kept temporary is gone.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../shared/logging/index.js';
import { blockChecksum } from '../../shared/grpc/disk-checksum.js';
import { BLOCK, patternBlock, tempRemoteRoot, testContext } from '../../test/support/storage-harness.js';
import { DiskReceiver, type DiskHeaderInput } from './disk-receiver.js';
import { ParkedUploads } from './parked-uploads.js';
import type { RemoteContext } from './remote-context.js';

describe('parked uploads', () => {
  let root: string;
  let ctx: RemoteContext;
  before(async () => {
    root = await tempRemoteRoot();
    ctx = testContext(root);
    await ctx.layout.ensure();
  });
  after(() => rm(root, { recursive: true, force: true }));

  const header = (vmUuid: string): DiskHeaderInput => ({
    backupId: '20261205T140000Z-park', vmUuid, diskKey: 'xvda', virtualSize: 8 * BLOCK, blockSize: BLOCK,
    footerUuid: randomUUID(), parentFooterUuid: undefined, timestampMs: Date.parse('2026-12-05T14:00:00Z'), checksumRule: 'whole',
  });

  /** A receiver that took two blocks, then had its stream break. */
  async function broken(h: DiskHeaderInput): Promise<DiskReceiver> {
    const receiver = await DiskReceiver.start(ctx, h);
    const full = Buffer.alloc(512, 0xff);
    for (const index of [0, 1]) {
      const data = patternBlock(3, index);
      await receiver.addBlock({ index, bitmap: Buffer.alloc(0), data, checksum: blockChecksum(full, data), packed: false });
    }
    assert.equal(await receiver.settleForResume(), true);
    return receiver;
  }

  const diskFolder = (vmUuid: string): string => join(root, 'vms', vmUuid, 'disks', 'xvda');
  const silent = createLogger({ level: 'silent', pretty: false });

  test('one that nobody resumes in time is removed, temporary and all', async () => {
    const vmUuid = randomUUID();
    const parked = new ParkedUploads(silent, 100);
    await parked.park(await broken(header(vmUuid)), 'host:a');
    assert.equal((await readdir(diskFolder(vmUuid))).filter((n) => n.endsWith('.tmp')).length, 1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(await readdir(diskFolder(vmUuid)).catch(() => [] as string[]), []);
  });

  test('another caller, or another header, gets nothing and the kept upload is dropped', async () => {
    const parked = new ParkedUploads(silent);
    const vmUuid = randomUUID();
    const h = header(vmUuid);
    await parked.park(await broken(h), 'host:a');
    assert.equal(await parked.take(h, 'host:b', true), undefined, 'another host agent cannot take up the upload');
    assert.deepEqual(await readdir(diskFolder(vmUuid)).catch(() => [] as string[]), [], 'and the kept temporary is gone');

    await parked.park(await broken(h), 'host:a');
    assert.equal(await parked.take({ ...h, footerUuid: randomUUID() }, 'host:a', true), undefined, 'a different disk under the same name starts over');
    assert.deepEqual(await readdir(diskFolder(vmUuid)).catch(() => [] as string[]), []);

    await parked.park(await broken(h), 'host:a');
    const kept = await parked.take(h, 'host:a', true);
    assert.equal(kept?.lastIndex, 1, 'the same caller and header take it up after block 1');
    await kept!.abort();
  });
});
