// Restore proves its bytes, end to end on real parts: a lab pool (XAPI through the real xen-api
// client), a storage agent, a host agent and the coordinator — each a real `deltachain` process —
// on Postgres and NATS JetStream. A VM with two small disks is backed up four nights (a full and
// three deltas), then one byte is flipped on the remote: in the newest delta, then in a middle
// delta (the first whose block no later delta rewrites), then in the full of the other disk. After each flip every date that depends on it
// fails to restore — naming the backup and the disk, not retried, nothing left on the pool —
// while every other date still restores equal to the lab pool's digests. Verify names and marks
// every damaged backup with its files and blocks; the next run takes a full of both damaged
// disks and that date restores correctly.
//
// Until the storage agent checks the blocks it reads and computes chain digests at commit, the
// host agent's check against the catalogue's chain digest is what catches the flips; the test
// then records each disk's chain digest in the catalogue itself (GetDisk BLOCKS's trailer digest,
// the chain digest by definition), standing in for the storage agent's. Once the storage agent
// sends them, the test checks the recorded digests against that definition instead, and a
// restore may fail first with the storage agent's DATA_DAMAGED, which must name file and block.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectCatalogue, type Catalogue } from '../coordinator/catalogue/index.js';
import { StorageClient } from '../shared/grpc/storage-client.js';
import type * as wire from '../shared/proto/gen/deltachain/control/v1/control.js';
import { digestVm, PoolXapi, planGuestWrites, restoreAndWait, type LabStack } from '../lab/story/index.js';
import { startE2eStack, type E2eStack } from './support/e2e-stack.js';
import { backUp, DigestLedger, findVm, policySettings, restoreChecked, srUuidOf, writeGuest, type E2eVm } from './support/e2e-backups.js';
import { runCli } from './support/e2e-cli.js';
import { chainDigestOverGrpc, flipStoredByte, type FlippedByte } from './support/stored-damage.js';
import { labReadAccess } from './support/lab-read-access.js';

const MiB = 1024 * 1024;
const POOL = {
  name: 'lab-a',
  seed: 21,
  fleet: {
    srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 34 }, { name: 'Restore SR', type: 'ext', size: 2 ** 34 }],
    vms: [{ name: 'web', disks: [{ name: 'web root', size: 16 * MiB, fill: 60 }, { name: 'web data', size: 16 * MiB, fill: 60 }] }],
  },
};

interface Flip extends FlippedByte {
  /** The backup whose file was changed, and its disk. */
  backupId: string;
  diskKey: string;
  /** The file relative to the remote root (as verify and the storage agent name it). */
  file: string;
}

describe('end to end: a flipped byte on the remote', { timeout: 600_000 }, () => {
  let e2e: E2eStack;
  let stack: LabStack;
  let sql: Catalogue;
  let web: E2eVm;
  let srUuid: string;
  const ledger = new DigestLedger();
  const nights: string[] = [];
  /** Disk keys in device order (root, data). */
  let disks: string[] = [];
  const flips: Flip[] = [];

  before(async () => {
    e2e = await startE2eStack({ pools: [POOL], remotes: ['nas'] });
    stack = e2e.stack;
    sql = connectCatalogue(stack.options.databaseUrl, { maxConnections: 2 });
    web = await findVm(stack, 'lab-a', 'web');
    srUuid = await srUuidOf(stack, 'lab-a', 'Restore SR');
    await stack.control.createPolicy({ settings: policySettings('nightly', [web], ['nas'], { retention: 10, fullInterval: 0 }) });
  });
  after(async () => {
    await sql?.end();
    await e2e?.close();
  });

  /** Remote summaries of web's backups, oldest first. */
  async function onRemote() {
    const storage = new StorageClient(stack.remotes.get('nas')!.address, stack.security.coordinatorCredentials());
    // In the order the nights took them: a VHD timestamp has whole seconds, and two nights can fall
    // in one second, where the listing's order (by id) is the ids' random suffixes'.
    const order = (id: string) => nights.indexOf(id);
    return (await storage.listBackups(web.uuid).finally(() => storage.close())).sort((a, b) => order(a.backupId) - order(b.backupId) || a.timestampMs - b.timestampMs);
  }

  /** The catalogue's chain digests checked against GetDisk's, or recorded from it while the storage agent sends none. */
  async function ensureChainDigests(backupId: string): Promise<void> {
    const rows = await sql<{ id: string; diskKey: string; chainDigest: string }[]>`
      select d.id, d.disk_key, d.chain_digest from disks d join backups b on b.key = d.backup_key where b.remote_name = 'nas' and b.id = ${backupId}`;
    assert.equal(rows.length, 2);
    for (const row of rows) {
      const access = await labReadAccess(stack.security, { pool: 'lab-a', remote: 'nas', vmUuid: web.uuid, backupId });
      const digest = (await chainDigestOverGrpc(stack.remotes.get('nas')!.address, web.uuid, backupId, row.diskKey, access)).toString('hex');
      if (row.chainDigest !== '') assert.equal(row.chainDigest, digest, `the chain digest recorded for ${backupId}/${row.diskKey} is the chain's`);
      else await sql`update disks set chain_digest = ${digest} where id = ${row.id}`;
    }
  }

  async function poolContent(): Promise<{ vms: string[]; vdis: string[] }> {
    const xapi = await PoolXapi.connect(stack.pools.get('lab-a')!);
    try {
      const uuids = async (cls: string) => Object.values(await xapi.records(cls)).map((r) => String(r['uuid'])).sort();
      return { vms: await uuids('VM'), vdis: await uuids('VDI') };
    } finally {
      await xapi.close();
    }
  }

  const restoreOf = (backupId: string) =>
    restoreAndWait(stack.control, { what: { $case: 'backupId', value: backupId }, pool: 'lab-a', srUuid, name: `web ${backupId}`, backupRemote: 'nas' });

  /** Dates already seen failing on the data (a later flip cannot mend them). */
  const failing = new Set<string>();

  /** Restores each date: those depending on a flip must fail on the data, the others must come back whole. */
  async function restoreEveryDate(): Promise<void> {
    for (const [i, backupId] of nights.entries()) {
      const hits = flips.filter((f) => nights.indexOf(f.backupId) <= i);
      if (failing.has(backupId)) continue;
      if (hits.length === 0) {
        await restoreChecked(stack, ledger, { vm: web, what: { backupId }, remote: 'nas', toPool: 'lab-a', srName: 'Restore SR', expectedBackupId: backupId });
        continue;
      }
      const before = await poolContent();
      const { task } = await restoreOf(backupId);
      assertDataFailure(task, backupId, hits);
      failing.add(backupId);
      assert.deepEqual(await poolContent(), before, `the failed restore of ${backupId} left no VM and no VDI on the pool`);
    }
  }

  function assertDataFailure(task: wire.TaskInfo, backupId: string, hits: Flip[]): void {
    const what = `restore of ${backupId}: ${task.state} ${task.errorCode} ${task.errorMessage}`;
    assert.equal(task.state, 'failed', what);
    assert.ok(['RESTORE_DIGEST_MISMATCH', 'DATA_DAMAGED'].includes(task.errorCode), what);
    assert.equal(task.attempt, 1, `not retried: ${what}`);
    assert.ok(hits.some((f) => task.errorMessage.includes(`backup ${backupId} of VM ${web.uuid} on remote nas, disk ${f.diskKey}:`)), `names the backup and a damaged disk: ${what}`);
    if (task.errorCode === 'DATA_DAMAGED') assert.ok(hits.some((f) => task.errorMessage.includes(`${f.file} block ${f.block}`)), `the storage agent names file and block: ${what}`);
    else assert.match(task.errorMessage, /expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}.*deltachain verify --backup/, what);
  }

  async function flip(backupId: string, device: number): Promise<void> {
    const summaries = await onRemote();
    const diskKey = disks[device]!;
    const fileOf = (i: number) => summaries[i]!.disks.find((d) => d.diskKey === diskKey)!.path;
    const at = summaries.findIndex((s) => s.backupId === backupId);
    const root = stack.remotes.get('nas')!.root;
    const newer = summaries.slice(at + 1).map((_, k) => join(root, fileOf(at + 1 + k)));
    const flipped = await flipStoredByte(join(root, fileOf(at)), newer);
    flips.push({ ...flipped, backupId, diskKey, file: fileOf(at) });
  }

  it('four nights: a full and three deltas, each with a chain digest per disk', async () => {
    for (let night = 1; night <= 4; night++) {
      if (night > 1) await writeGuest(stack, web, planGuestWrites(night, 0, 2, 5));
      const backup = (await backUp(stack, 'nightly', [web], ledger)).backup(web, 'nas');
      nights.push(backup.backupId);
      await ensureChainDigests(backup.backupId);
    }
    disks = [...web.vdis];
    assert.deepEqual((await onRemote()).map((b) => b.disks.map((d) => d.diskKey).sort()), nights.map(() => [...disks].sort()), 'disk keys are the VM’s VDI uuids');
  });

  it('a byte flipped in the newest delta: that date fails naming it and is marked damaged; the others restore whole', async () => {
    await flip(nights[3]!, 0);
    await restoreEveryDate();
    const listed = (await stack.control.listBackups({ vmUuid: web.uuid, remote: 'nas', all: false })).backups;
    const newest = listed.find((b) => b.id === nights[3]);
    assert.deepEqual(newest?.damage.map((d) => [d.diskKey, d.foundBy]), [[disks[0], 'restore']], 'the failed restore marked the disk of the backup damaged');
  });

  it('a byte flipped in a middle delta: it and every later date fail; the full still restores', async () => {
    // The first middle delta with a block no later delta rewrites whole (guest writes may cover it).
    const flipped = await flip(nights[1]!, 0).then(() => true, (error: Error) => {
      if (!/no block whose data a restore reads/.test(error.message)) throw error;
      return false;
    });
    if (!flipped) await flip(nights[2]!, 0);
    await restoreEveryDate();
    assert.ok(!failing.has(nights[0]!), 'the full still restored');
  });

  it('a byte flipped in the full of the other disk: every date fails', async () => {
    await flip(nights[0]!, 1);
    await restoreEveryDate();
  });

  it('verify names every damaged backup with its disks, files and blocks, marks them, and exits 1', async () => {
    const text = await runCli(stack, ['verify', '--vm', web.uuid]);
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stdout, /4 of 4 backups failed verification/);
    for (const backupId of nights) assert.match(text.stdout, new RegExp(`backup ${backupId}\\n`), `names ${backupId}`);
    for (const f of flips) assert.match(text.stdout, new RegExp(`disk ${f.diskKey}: file ${f.file} block ${f.block}: `), `names ${f.file} block ${f.block}`);

    const json = await runCli(stack, ['verify', '--vm', web.uuid, '--json']);
    assert.equal(json.code, 1, json.stderr);
    const damaged = (JSON.parse(json.stdout) as { damaged: { backupId: string; diskKey: string; file: string; blocks: number[] }[] }[]).flatMap((t) => t.damaged);
    const listed = (await stack.control.listBackups({ vmUuid: web.uuid, remote: 'nas', all: false })).backups;
    for (const [i, backupId] of nights.entries()) {
      const expected = flips.filter((f) => nights.indexOf(f.backupId) <= i).map((f) => `${f.diskKey} ${f.file} ${f.block}`).sort();
      const inJson = [...new Set(damaged.filter((d) => d.backupId === backupId).map((d) => `${d.diskKey} ${d.file} ${d.blocks.join(',')}`))].sort();
      assert.deepEqual(inJson, expected, `--json names the damage of ${backupId}`);
      const marked = listed.find((b) => b.id === backupId)!.damage.filter((d) => d.foundBy === 'verify').map((d) => `${d.diskKey} ${d.file} ${d.blocks.join(',')}`).sort();
      assert.deepEqual(marked, expected, `the catalogue marks ${backupId} with the damage verify found`);
    }
    const list = await runCli(stack, ['backup', 'list', '--vm', web.uuid]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /DAMAGED/);
    for (const backupId of nights) assert.match(list.stdout, new RegExp(`^${backupId} .*disk `, 'm'), `backup list shows ${backupId} damaged`);
  });

  it('the next run takes a full of both damaged disks, says why, and restores equal to the pool', async () => {
    await writeGuest(stack, web, planGuestWrites(5, 0, 2, 5));
    const run = await backUp(stack, 'nightly', [web], ledger);
    const backup = run.backup(web, 'nas');
    // Each disk's reason names the oldest damaged backup of its chain: the oldest flipped there.
    const oldest = (disk: string) => nights.find((n) => flips.some((f) => f.diskKey === disk && f.backupId === n))!;
    const reason = (disk: string) => `full: the chain on the remote holds a damaged backup; a new full starts a sound chain (backup ${oldest(disk)})`;
    assert.deepEqual(run.plans(web, 'nas'), { [disks[0]!]: reason(disks[0]!), [disks[1]!]: reason(disks[1]!) });
    const show = await runCli(stack, ['run', 'show', run.summary.runId]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /\nwhy full:\n/);
    for (const disk of disks) assert.ok(show.stdout.includes(`disk ${disk}: ${reason(disk).slice('full: '.length)}`), show.stdout);
    await ensureChainDigests(backup.backupId);
    const { task, newVmUuid } = await restoreOf(backup.backupId);
    assert.equal(task.state, 'succeeded', `${task.errorCode} ${task.errorMessage}`);
    const restored = await digestVm(stack.pools.get('lab-a')!.admin, newVmUuid);
    assert.deepEqual(restored.map((d) => d.sha256), ledger.get('nas', backup.backupId).map((d) => d.sha256), 'the new full restores equal to the pool at that date');
    const result = JSON.parse(task.resultJson) as { disks: { digestChecked: boolean }[]; warnings: string[] };
    assert.deepEqual(result.disks.map((d) => d.digestChecked), [true, true], 'both disks were checked against their chain digests');
    assert.deepEqual(result.warnings, []);
  });
});
