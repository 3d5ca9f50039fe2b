// The peer benchmark library (test/bench/peers) at a small size: restic and borg back up a 32 MiB
// random file, then again after a 1 % change (everything read, little added), restore the newest
// backup byte for byte; the raw TCP copy is exact; measureCommand sees a real process's CPU and RSS.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BorgRepo, copyFile, dirBytes, ensurePeerTools, measureCommand, overwriteRuns, PeerCommandError, rawTcpCopy, ResticRepo, writeRandomFile, type PeerRepo } from './bench/peers/index.js';

const MiB = 1024 * 1024;
const SIZE = 32 * MiB;

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

// Concurrent subtests: each has its own folder and only reads the shared source file; this keeps the
// file well under 20 s on a loaded 2-core machine.
describe('bench peers', { concurrency: true }, () => {
  let dir: string;
  let file: string;

  before(async () => {
    await ensurePeerTools();
    dir = await mkdtemp(join(tmpdir(), 'deltachain-bench-peers-'));
    file = join(dir, 'disk.img');
    await writeRandomFile(file, SIZE);
  });
  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('measureCommand reports CPU, RSS and the bytes read of a child process, and stdout', async () => {
    const m = await measureCommand(['sha256sum', file]);
    assert.ok(m.cpuSec > 0, `cpu ${m.cpuSec}`);
    assert.ok(m.peakRssMiB > 0, `rss ${m.peakRssMiB}`);
    assert.ok(m.rcharBytes >= SIZE, `rchar ${m.rcharBytes}`);
    assert.ok(m.wallSec > 0);
    assert.equal(m.stdout.split(' ')[0], await sha256(file));
  });

  it('measureCommand counts grandchildren and fails with the stderr tail', async () => {
    const m = await measureCommand(['sh', '-c', 'sha256sum "$0" >/dev/null', file]);
    assert.ok(m.rcharBytes >= SIZE && m.cpuSec > 0);
    await assert.rejects(measureCommand(['sh', '-c', 'echo boom >&2; exit 3']), (e: unknown) => e instanceof PeerCommandError && e.exitCode === 3 && /boom/.test(e.message));
  });

  const tools: Array<[string, (d: string) => Promise<PeerRepo>]> = [
    ['restic', (d) => ResticRepo.create(d)],
    ['borg', (d) => BorgRepo.create(d)],
  ];
  for (const [name, create] of tools) {
    it(`${name}: full, incremental after a 1 % change, restore of the latest equal to the file`, async () => {
      const work = join(dir, name);
      const source = join(work, 'disk.img');
      await mkdir(work);
      await copyFile(file, source);
      const repo = await create(join(work, 'repo'));
      const full = await repo.backup(source);
      assert.ok(full.bytesRead >= SIZE && full.bytesRead < SIZE + 64 * 1024, `full read ${full.bytesRead}`);
      assert.ok(full.bytesAdded >= SIZE, `full added ${full.bytesAdded}`);
      assert.ok(full.cpuSec > 0 && full.peakRssMiB > 0);
      await overwriteRuns(source, 0.01);
      const incremental = await repo.backup(source);
      assert.ok(incremental.bytesRead >= SIZE && incremental.bytesRead < SIZE + 64 * 1024, `incremental read ${incremental.bytesRead}`);
      assert.ok(incremental.bytesAdded > 0 && incremental.bytesAdded < SIZE / 2, `incremental added ${incremental.bytesAdded}`);
      assert.equal(await repo.sizeBytes(), await dirBytes(join(work, 'repo', 'repo')));
      const target = join(work, 'restored');
      const restore = await repo.restore('latest', target);
      assert.ok(restore.wallSec > 0 && restore.cpuSec > 0);
      assert.equal(await sha256(join(target, 'disk.img')), await sha256(source));
      await rm(work, { recursive: true, force: true });
    });
  }

  it('rawTcpCopy and copyFile make identical files', async () => {
    const tcp = await rawTcpCopy(file, join(dir, 'tcp.img'));
    assert.equal(tcp.bytes, SIZE);
    assert.ok(tcp.wallSec > 0 && tcp.cpuSec > 0);
    assert.equal(await sha256(join(dir, 'tcp.img')), await sha256(file));
    const cp = await copyFile(file, join(dir, 'cp.img'));
    assert.equal(cp.bytes, SIZE);
    assert.ok(cp.wallWithFsyncSec >= cp.wallSec && cp.wallSec > 0);
    assert.equal(await sha256(join(dir, 'cp.img')), await sha256(file));
  });
});
