// `deltachain nats-config`: the seeds it makes (one per process, owner-only, kept on a second run),
// the authorization block it prints (public keys only, each role's permissions), the pools and
// remotes it covers — named on the command line, or read from the coordinator — and the input it
// refuses without writing anything.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSeedFile } from '../shared/nats/index.js';
import { startCliHarness, type CliHarness } from './support/pg-cli-harness.js';

describe('deltachain nats-config', { timeout: 60_000 }, () => {
  let h: CliHarness;
  let folder: string;
  before(async () => {
    h = await startCliHarness();
    folder = await mkdtemp(join(tmpdir(), 'dc-nats-config-'));
  });
  after(async () => {
    await h?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('makes a seed per process (0600, in a 0700 folder) and prints their public keys with each role\'s permissions', async () => {
    const out = join(folder, 'offline');
    const result = await h.cli('nats-config', '--out', out, '--pool', 'lab', '--remote', 'nas', '--agent', 'host:lab:host-lab-b', '--namespace', 'prod');
    assert.equal(result.code, 0, result.err);
    assert.deepEqual((await readdir(out)).sort(), ['coordinator.nk', 'host.lab.host-lab-b.nk', 'storage.nas.storage-nas.nk'], 'a named agent replaces the pool\'s default one');
    assert.equal((await stat(out)).mode & 0o777, 0o700);
    for (const file of await readdir(out)) {
      assert.equal((await stat(join(out, file))).mode & 0o777, 0o600, file);
      const key = await readSeedFile(join(out, file));
      assert.ok(result.out.includes(key.publicKey), `${file}'s public key is in the block`);
      assert.ok(!result.out.includes(key.seed), `${file}'s seed is not`);
    }
    assert.match(result.out, /authorization \{\n {2}users = \[/);
    assert.match(result.out, /# host agent host-lab-b of pool lab\n.*\n {8}publish: \{ allow: \["\$JS\.API\.CONSUMER\.INFO\.PROD_TASKS\.host-lab", "\$JS\.API\.CONSUMER\.MSG\.NEXT\.PROD_TASKS\.host-lab", "\$JS\.ACK\.PROD_TASKS\.host-lab\.>", "prod\.events\.host\.lab\.host-lab-b\.\*"\] \}\n {8}subscribe: \{ allow: \["_INBOX\.prod\.host\.lab\.host-lab-b\.>"\] \}/);
    assert.match(result.out, /# the coordinator\n.*\n {8}publish: \{ allow: \["prod\.tasks\.>", "\$JS\.API\.INFO", "\$JS\.API\.STREAM\.\*\.PROD_TASKS"/);
    assert.match(result.err, /made .*coordinator\.nk {2}\(the coordinator\)/);

    const again = await h.cli('nats-config', '--out', out, '--pool', 'lab', '--remote', 'nas', '--agent', 'host:lab:host-lab-b', '--namespace', 'prod');
    assert.equal(again.code, 0, again.err);
    assert.equal(again.out, result.out, 'a second run keeps every seed: the same block');
    assert.doesNotMatch(again.err, /^made /m);
  });

  it('reads the registered pools and remotes from the coordinator when none are named', async () => {
    assert.equal((await h.cli('pool', 'add', 'pool1')).code, 0);
    assert.equal((await h.cli('remote', 'add', 'nas1', '--address', '127.0.0.1:50051')).code, 0);
    const out = join(folder, 'registered');
    const result = await h.cli('nats-config', '--out', out);
    assert.equal(result.code, 0, result.err);
    assert.deepEqual((await readdir(out)).sort(), ['coordinator.nk', 'host.pool1.host-pool1.nk', 'storage.nas1.storage-nas1.nk']);
    assert.match(result.out, /# host agent host-pool1 of pool pool1/);
    assert.match(result.out, /"deltachain\.events\.storage\.nas1\.storage-nas1\.\*"/);
  });

  it('refuses a malformed agent or name, writing nothing', async () => {
    const out = join(folder, 'refused');
    for (const args of [['--agent', 'host:lab'], ['--agent', 'admin:lab:x'], ['--pool', 'Lab.Prod'], ['--agent', 'host:lab:a.b']]) {
      const result = await h.cli('nats-config', '--out', out, ...args);
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.err, /expected host:POOL:NAME|must match/, result.err);
    }
    await assert.rejects(readdir(out), { code: 'ENOENT' });
  });

  it('--help teaches the set-up in order', async () => {
    const help = await h.cli('nats-config', '--help');
    const text = help.out;
    const steps = ['1. Before the coordinator runs', '2. Include that file in nats-server.conf', '3. Give each process its seed', '4. Start the coordinator', '5. Whenever a pool, remote or agent is added'];
    const at = steps.map((s) => text.indexOf(s));
    assert.ok(at.every((i) => i >= 0), text);
    assert.deepEqual([...at].sort((a, b) => a - b), at);
  });

  it('a seed file that is not a user seed is refused with its path', async () => {
    const out = join(folder, 'corrupt');
    await h.cli('nats-config', '--out', out, '--pool', 'lab');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(out, 'host.lab.host-lab.nk'), 'not a seed\n');
    const result = await h.cli('nats-config', '--out', out, '--pool', 'lab');
    assert.equal(result.code, 1);
    assert.match(result.err, /host\.lab\.host-lab\.nk does not hold an nkey user seed/);
    assert.equal(await readFile(join(out, 'host.lab.host-lab.nk'), 'utf8'), 'not a seed\n', 'left as it was');
  });
});
