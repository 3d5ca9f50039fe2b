// Resumable uploads (agent/storage/parked-uploads.ts, shared/grpc/upload-resume.ts): a PutDisk cut
// in the middle — the emulated link between the host side (RemoteStorage, as a host agent uses it)
// and a real storage server torn down — is taken up by the next try, which sends only the blocks
// after the last one the remote kept; the disk then reads back whole and its digest check holds.
// A try whose header differs starts over, and a discarded backup takes its parked upload along.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ChannelCredentials } from '@grpc/grpc-js';
import { RemoteStorage } from '../agent/host/remote/remote-storage.js';
import { GetDiskFormat } from '../shared/grpc/index.js';
import { BLOCK, patternBlock, records, startStorageHarness, type StorageHarness } from './support/storage-harness.js';
import { linkShape, startWanLink, type WanLink } from './support/wan-link.js';

const BLOCKS = 40;

describe('resumable uploads', () => {
  let h: StorageHarness;
  let link: WanLink;
  let storage: RemoteStorage;
  before(async () => {
    h = await startStorageHarness();
    link = await startWanLink({ host: '127.0.0.1', port: h.server.port }, linkShape(1000, 10));
    storage = new RemoteStorage({ remoteId: 'test-remote', address: `127.0.0.1:${link.port}`, credentials: ChannelCredentials.createInsecure() }, { uploadWindow: 2, callTimeoutMs: 5000 });
  });
  after(async () => {
    storage.close();
    await link.close();
    await h.close();
  });

  const header = (vmUuid: string, footerUuid: string) => ({
    backupId: '20261205T130000Z-resume', vmUuid, diskKey: 'xvda', virtualSize: BLOCKS * BLOCK, blockSize: BLOCK, footerUuid, parentFooterUuid: '', timestampMs: Date.parse('2026-12-05T13:00:00Z'),
  });

  /** Sends blocks until the link has carried `cutAfter` blocks' worth, then cuts it; the try fails. */
  async function cutTry(vmUuid: string, footerUuid: string, cutAfter: number): Promise<void> {
    const upload = storage.putDisk(header(vmUuid, footerUuid));
    const start = link.carried().up;
    await assert.rejects(async () => {
      for (let i = 0; i < BLOCKS; i++) {
        await upload.writeBlock(i, Buffer.alloc(0), patternBlock(7, i));
        if (link.carried().up - start >= cutAfter * BLOCK) link.cut();
      }
      await upload.finish();
    });
    upload.abort();
  }

  /** A try with resume, tried again while the storage agent is still putting the broken one aside. */
  async function resumedTry(vmUuid: string, footerUuid: string): Promise<{ skipped: number; carried: number; digest: Buffer }> {
    for (let attempt = 0; ; attempt++) {
      const start = link.carried().up;
      const upload = storage.putDisk(header(vmUuid, footerUuid), { resume: true });
      try {
        for (let i = 0; i < BLOCKS; i++) await upload.writeBlock(i, Buffer.alloc(0), patternBlock(7, i));
        const result = await upload.finish();
        assert.equal(result.blockCount, BLOCKS);
        return { skipped: upload.skipped.blocks, carried: link.carried().up - start, digest: result.digest };
      } catch (error) {
        upload.abort();
        if (attempt >= 40) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async function readBack(vmUuid: string, footerUuid: string, digest: Buffer): Promise<void> {
    const seen: number[] = [];
    await h.client.commitBackup({ backupId: '20261205T130000Z-resume', vmUuid, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vmUuid), policyJson: '', diskSources: [], sentDisks: [{ diskKey: 'xvda', footerUuid, virtualSize: BLOCKS * BLOCK, digest }] });
    for await (const part of h.client.getDiskParts(vmUuid, '20261205T130000Z-resume', 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
      if (part.$case !== 'block') continue;
      assert.ok(Buffer.from(part.value.data).equals(patternBlock(7, part.value.index)), `block ${part.value.index}`);
      seen.push(part.value.index);
    }
    assert.deepEqual(seen, Array.from({ length: BLOCKS }, (_, i) => i));
  }

  test('a cut upload resumes after the last block the remote kept and sends only the rest', async (t) => {
    const vmUuid = randomUUID();
    const footer = randomUUID();
    await cutTry(vmUuid, footer, 20);
    const { skipped, carried, digest } = await resumedTry(vmUuid, footer);
    t.diagnostic(`${skipped} of ${BLOCKS} blocks were kept by the remote; the resumed try carried ${(carried / BLOCK).toFixed(2)} blocks' worth`);
    assert.ok(skipped >= 10 && skipped < BLOCKS, `${skipped} blocks were on the remote already`);
    assert.ok(carried < (BLOCKS - skipped + 2) * BLOCK, `the resumed try carried ${carried} bytes for ${BLOCKS - skipped} blocks`);
    const files = (await readdir(join(h.root, 'vms', vmUuid, 'disks', 'xvda'))).sort();
    assert.deepEqual(files, ['20261205T130000Z-resume.vhd', '20261205T130000Z-resume.vhd.sums'], 'the disk and its checksums, no temporary');
    await readBack(vmUuid, footer, digest); // the commit checks the disk against the digest the resumed try computed
  });

  test('a try with another header starts over: the kept upload is dropped, nothing of it is used', async () => {
    const vmUuid = randomUUID();
    await cutTry(vmUuid, randomUUID(), 20);
    const { skipped } = await resumedTry(vmUuid, randomUUID());
    assert.equal(skipped, 0);
    const files = (await readdir(join(h.root, 'vms', vmUuid, 'disks', 'xvda'))).sort();
    assert.deepEqual(files, ['20261205T130000Z-resume.vhd', '20261205T130000Z-resume.vhd.sums']);
  });

  test('a resume while the caller\'s earlier stream is still open here (a link gone silent): that stream is broken off and taken up', async (t) => {
    const vmUuid = randomUUID();
    const footer = randomUUID();
    // The earlier try, over its own connection: 20 blocks sent, then silence — neither end nor cancel.
    const silent = new RemoteStorage({ remoteId: 'test-remote', address: h.server.address, credentials: ChannelCredentials.createInsecure() }, { uploadWindow: 2, callTimeoutMs: 5000 });
    try {
      const earlier = silent.putDisk(header(vmUuid, footer));
      for (let i = 0; i < 20; i++) await earlier.writeBlock(i, Buffer.alloc(0), patternBlock(7, i));
      const { skipped, digest } = await resumedTry(vmUuid, footer);
      t.diagnostic(`the resume found ${skipped} blocks of the open stream kept`);
      assert.ok(skipped >= 10 && skipped <= 20, `${skipped} blocks of the silent stream were taken up`);
      await readBack(vmUuid, footer, digest);
      earlier.abort();
    } finally {
      silent.close();
    }
  });

  test('a resume of a disk the caller\'s earlier stream received whole (delivered late): every block is held, the trailer is checked, nothing is written again', async () => {
    const vmUuid = randomUUID();
    const footer = randomUUID();
    const earlier = storage.putDisk(header(vmUuid, footer));
    for (let i = 0; i < BLOCKS; i++) await earlier.writeBlock(i, Buffer.alloc(0), patternBlock(7, i));
    const first = await earlier.finish();
    const folder = join(h.root, 'vms', vmUuid, 'disks', 'xvda');
    const before = await readdir(folder);
    const { skipped, carried, digest } = await resumedTry(vmUuid, footer);
    assert.equal(skipped, BLOCKS, 'the resume was told every block is held');
    assert.ok(carried < BLOCK, `the resume carried ${carried} bytes: the trailer only`);
    assert.ok(digest.equals(Buffer.from(first.digest)), 'the same disk');
    assert.deepEqual(await readdir(folder), before, 'nothing written again');
    await readBack(vmUuid, footer, digest);
    // A plain (not resuming) upload of the same disk is still refused: a received disk is never replaced.
    const again = storage.putDisk(header(vmUuid, footer));
    await assert.rejects(async () => {
      for (let i = 0; i < BLOCKS; i++) await again.writeBlock(i, Buffer.alloc(0), patternBlock(7, i));
      await again.finish();
    }, /already committed|already received/);
    again.abort();
  });

  test('discarding the backup drops its kept upload and its temporary', async () => {
    const vmUuid = randomUUID();
    await cutTry(vmUuid, randomUUID(), 20);
    const folder = join(h.root, 'vms', vmUuid, 'disks', 'xvda');
    for (let i = 0; i < 50; i++) {
      await h.client.discardBackup(vmUuid, '20261205T130000Z-resume');
      const left = await readdir(folder).catch(() => [] as string[]);
      if (left.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(await readdir(folder).catch(() => [] as string[]), [], 'the temporary of the kept upload is gone');
  });
});
