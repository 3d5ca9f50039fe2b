// `deltachain-lab pool` as a process, `write|digest|faults` through the lab's entry point: the
// banner, writes and digests through the URL with credentials, determinism for a seed, a clean SIGTERM shutdown, state reopened
// after the process ended, and a SIGKILL in the middle of a write leaving the disk as it was.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LabAdminClient, simpleFleet, startLabPool } from '../lab/pool/index.js';
import { connectXapi } from './support/lab-harness.js';
import { startLabProcess } from './support/lab-process.js';
import { runLabCli } from './support/lab-cli.js';

describe('deltachain-lab commands', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lab-cli-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a lab that lab write / lab digest drive, deterministically, and stops on SIGTERM', async () => {
    const state = join(dir, 'cli');
    const lab = await startLabProcess(['--state', state, '--vms', '1', '--disk-size', '32MiB', '--fill', '10', '--seed', '4']);
    let stopped = false;
    try {
      const { banner } = lab;
      assert.match(banner.urlWithCredentials, /^http:\/\/root:lab@127\.0\.0\.1:\d+$/);
      const vdi = banner.vms[0]!.disks[0]!.vdi;
      const write = await runLabCli(['write', '--url', banner.urlWithCredentials, '--vdi', vdi, '--pattern', 'clustered', '--percent', '25', '--seed', '7', '--json']);
      assert.equal(write.code, 0, write.stderr);
      assert.deepEqual(JSON.parse(write.stdout).blocks, 4);
      const digest = await runLabCli(['digest', '--url', banner.urlWithCredentials, '--vdi', vdi]);
      assert.equal(digest.code, 0, digest.stderr);
      const sha = digest.stdout.split(/\s+/)[0]!;
      assert.match(sha, /^[0-9a-f]{64}$/);

      // The same fleet, seed and write in another lab give the same bytes.
      const twin = await startLabPool({ config: { state: join(dir, 'twin'), seed: 4, fleet: simpleFleet(1, 32 * 1024 * 1024, 10) } });
      try {
        const admin = new LabAdminClient(twin.urlWithCredentials);
        const twinVdi = (await admin.state()).vms[0]!.disks[0]!.vdi;
        await admin.write({ vdi: twinVdi, pattern: 'clustered', percent: 25, seed: 7 });
        assert.equal((await admin.digest(twinVdi)).sha256, sha);
      } finally {
        await twin.close();
      }

      // The real client connects through the printed URL.
      const xapi = await connectXapi({ url: banner.url, user: banner.user, password: banner.password } as never);
      assert.equal((await xapi.getAllRecords('VM')).length, 1);
      await xapi.disconnect();

      const faults = await runLabCli(['faults', '--url', banner.urlWithCredentials, '--set', '{"snapshotFailure":{"times":3}}']);
      assert.deepEqual(JSON.parse(faults.stdout), { snapshotFailure: { times: 3 } });
      const badFault = await runLabCli(['faults', '--url', banner.urlWithCredentials, '--set', '{"exportCut":{}}']);
      assert.equal(badFault.code, 1);
      assert.match(badFault.stderr, /exportCut\.afterBytes/);

      const started = Date.now();
      assert.equal(await lab.stop(), 0, lab.stderr());
      stopped = true;
      assert.ok(Date.now() - started < 5000, 'stopped promptly');

      const reopened = await startLabPool({ config: { state } });
      try {
        const admin = new LabAdminClient(reopened.urlWithCredentials);
        assert.equal((await admin.state()).vms[0]!.disks[0]!.vdi, vdi, 'the same VDI after a restart');
        assert.equal((await admin.digest(vdi)).sha256, sha, 'the same content after a restart');
      } finally {
        await reopened.close();
      }
    } finally {
      if (!stopped) await lab.kill();
    }
  });

  it('a SIGKILL during a write leaves the disk as it was; the store reopens', async () => {
    const state = join(dir, 'crash');
    const lab = await startLabProcess(['--state', state, '--vms', '1', '--disk-size', '512MiB', '--fill', '1']);
    const vdi = lab.banner.vms[0]!.disks[0]!.vdi;
    const admin = new LabAdminClient(lab.banner.urlWithCredentials);
    const before = await admin.digest(vdi);
    const blocks = join(state, 'srs', (await readdir(join(state, 'srs')))[0]!, 'blocks.dat');
    const sizeBefore = (await stat(blocks)).size;
    const write = admin.write({ vdi, pattern: 'sequential', percent: 100, seed: 2 }).catch((error: Error) => error);
    while ((await stat(blocks)).size < sizeBefore + 16 * 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 10));
    await lab.kill();
    assert.ok((await write) instanceof Error, 'the write was cut by the crash');
    const reopened = await startLabPool({ config: { state } });
    try {
      const after = await new LabAdminClient(reopened.urlWithCredentials).digest(vdi);
      assert.equal(after.sha256, before.sha256, 'all or nothing: the disk is as before the write');
      assert.equal(reopened.state.disks.stats(vdi).allocatedBlocks, 3, 'the seeded blocks only (1 % of 512 MiB)');
    } finally {
      await reopened.close();
    }
  });

  it('explains bad flags and unreachable pools', async () => {
    const noState = await runLabCli(['pool']);
    assert.notEqual(noState.code, 0);
    assert.match(noState.stderr, /--state/);
    const badPercent = await runLabCli(['write', '--url', 'http://root:lab@127.0.0.1:1', '--vdi', 'x', '--pattern', 'clustered', '--percent', 'lots']);
    assert.notEqual(badPercent.code, 0);
    assert.match(badPercent.stderr, /--percent must be a number/);
    const unreachable = await runLabCli(['digest', '--url', 'http://root:lab@127.0.0.1:1', '--vdi', 'x']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the lab pool at http:\/\/127\.0\.0\.1:1/);
    assert.doesNotMatch(unreachable.stderr, /root:lab/, 'no credentials in messages');
  });
});
