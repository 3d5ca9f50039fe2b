// One export, many remotes, end to end on real parts (a lab pool through the real xen-api client,
// its host agent, three storage agents and the coordinator, each a real `deltachain` process): a
// policy with two remotes reads each disk from the pool once per run — the bytes the lab pool
// served equal what one remote received — and keeps one reference snapshot for both. A remote
// added later gets its full from the same snapshot as the others' delta (two exports that run,
// one snapshot), after which one export serves all three again. Every date restores to the lab's
// digests, from each remote. A remote that fails (full) fails only its own task: the other remote
// of the run takes the backup, the reference moves for it alone, and the next run goes on.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LabStack } from '../lab/story/index.js';
import { startE2eStack, type E2eStack } from './support/e2e-stack.js';
import { mountSmallFilesystem, type SmallFilesystem } from './support/small-filesystem.js';
import { runPolicyAndWait } from '../lab/story/index.js';
import { runCli } from './support/e2e-cli.js';
import { backUp, DigestLedger, findVm, policySettings, restoreChecked, writeGuest, type BackupRun, type E2eVm } from './support/e2e-backups.js';

const MiB = 1024 * 1024;
const POOL = {
  name: 'lab-one',
  seed: 41,
  fleet: {
    srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 32 }],
    vms: [{ name: 'web', disks: [{ name: 'web root', size: 16 * MiB, fill: 50 }] }, { name: 'db', disks: [{ name: 'db root', size: 8 * MiB, fill: 50 }] }],
  },
};

describe('one export, many remotes', { timeout: 300_000 }, () => {
  let e2e: E2eStack;
  let stack: LabStack;
  let web: E2eVm;
  const ledger = new DigestLedger();
  const runs: BackupRun[] = [];

  const served = async () => {
    const { served } = await stack.pools.get('lab-one')!.admin.state();
    return served.export + served.nbd;
  };
  const references = async () => (await stack.pools.get('lab-one')!.admin.state()).vms.filter((v) => v.isSnapshot && v.snapshotOf === web.uuid);

  /** Runs the policy; returns the run and the disk bytes the pool served for it. */
  async function run(): Promise<{ run: BackupRun; served: number }> {
    const before = await served();
    const result = await backUp(stack, 'both', [web], ledger);
    runs.push(result);
    const bytes = (await served()) - before;
    const sent = result.summary.backups.map((b) => `${b.remote} ${b.bytesSent}`).join(', ');
    console.log(`# run ${runs.length}: the pool served ${bytes} bytes; sent ${sent}`);
    return { run: result, served: bytes };
  }

  before(async () => {
    e2e = await startE2eStack({ pools: [POOL], remotes: ['nas', 'offsite', 'far'] });
    stack = e2e.stack;
    web = await findVm(stack, 'lab-one', 'web');
    await stack.control.createPolicy({ settings: policySettings('both', [web], ['nas', 'offsite'], { retention: 5, fullInterval: 0 }) });
  });
  let small: SmallFilesystem | { skip: string } | undefined;
  after(async () => {
    await e2e?.close();
    if (small !== undefined && !('skip' in small)) await small.unmount();
  });

  it('a full to two remotes reads the disk from the pool once, and one snapshot is the reference of both', async () => {
    const { run: first, served: bytes } = await run();
    const [nas, offsite] = [first.backup(web, 'nas'), first.backup(web, 'offsite')];
    assert.equal(nas.fullDisks, 1);
    assert.equal(offsite.fullDisks, 1);
    assert.ok(nas.bytesSent > 4 * MiB, `a full of a half-filled 16 MiB disk: ${nas.bytesSent} bytes`);
    assert.equal(offsite.bytesSent, nas.bytesSent, 'both remotes received the same export');
    assert.ok(bytes < 1.2 * nas.bytesSent, `the pool served ${bytes} bytes for two remotes of ${nas.bytesSent} each: one export`);
    const refs = await references();
    assert.equal(refs.length, 1, 'one reference snapshot for both remotes');
  });

  it('the next run: a delta to both from one export', async () => {
    await writeGuest(stack, web, [{ disk: 0, percent: 5, seed: 7 }]);
    const { run: second, served: bytes } = await run();
    assert.deepEqual([second.backup(web, 'nas').fullDisks, second.backup(web, 'offsite').fullDisks], [0, 0]);
    const sent = second.backup(web, 'nas').bytesSent;
    assert.ok(sent < 8 * MiB, `a delta: ${sent} bytes`);
    assert.ok(bytes < 1.2 * sent + 1 * MiB, `the pool served ${bytes} bytes for a delta of ${sent} to two remotes: one export`);
    assert.equal((await references()).length, 1);
  });

  it('a remote added: its full and the others\' delta from one snapshot; then one export serves all three', async () => {
    await stack.control.updatePolicy({ name: 'both', settings: policySettings('both', [web], ['nas', 'offsite', 'far'], { retention: 5, fullInterval: 0 }) });
    await writeGuest(stack, web, [{ disk: 0, percent: 5, seed: 8 }]);
    const { run: third, served: bytes } = await run();
    const [nas, offsite, far] = ['nas', 'offsite', 'far'].map((r) => third.backup(web, r));
    assert.deepEqual([nas!.fullDisks, offsite!.fullDisks, far!.fullDisks], [0, 0, 1], 'far starts with a full, the others go on with deltas');
    assert.ok(bytes < 1.2 * (nas!.bytesSent + far!.bytesSent) + 1 * MiB, `two exports this run (a delta and a full): ${bytes} served`);
    assert.ok(bytes > far!.bytesSent, 'the full was read');
    assert.equal((await references()).length, 1, 'one reference for all three remotes');

    await writeGuest(stack, web, [{ disk: 0, percent: 5, seed: 9 }]);
    const { run: fourth, served: again } = await run();
    const sent = ['nas', 'offsite', 'far'].map((r) => fourth.backup(web, r));
    assert.deepEqual(sent.map((b) => b.fullDisks), [0, 0, 0], 'deltas to all three');
    assert.ok(again < 1.2 * sent[0]!.bytesSent + 1 * MiB, `one export for three remotes: ${again} served for a delta of ${sent[0]!.bytesSent}`);
    assert.equal((await references()).length, 1);
  });

  it('backup points: each run is one restore point held by every remote of the policy then', async () => {
    const shown = await runCli(stack, ['backup', 'points', '--vm', web.uuid, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const points = JSON.parse(shown.stdout) as { takenAtMs: number; remotes: Record<string, { backupId: string }> }[];
    assert.deepEqual(points.map((p) => Object.keys(p.remotes).sort().join(',')), ['nas,offsite', 'nas,offsite', 'far,nas,offsite', 'far,nas,offsite'], 'one snapshot, one date, on every remote');
  });

  it('every date restores to the lab digests, from each remote', async () => {
    for (const [i, r] of runs.entries()) {
      for (const remote of i < 2 ? ['nas', 'offsite'] : ['nas', 'offsite', 'far']) {
        if (!(i === runs.length - 1 || remote === 'far' || i === 0)) continue;
        const backupId = r.backup(web, remote).backupId;
        await restoreChecked(stack, ledger, { vm: web, what: { backupId }, remote, toPool: 'lab-one', srName: 'Local storage', expectedBackupId: backupId });
      }
    }
  });

  it('a remote that refuses the commit fails only its own task: the others commit the same export', async () => {
    // far's newest backup's checksum table damaged: far takes the upload of the delta, and its
    // commit, which checks the chain it relies on, refuses (DATA_LOSS: the checksum file is damaged).
    const previous = runs.at(-1)!.backup(web, 'far').backupId;
    const folder = join(stack.remotes.get('far')!.root, 'vms', web.uuid, 'disks');
    const [diskKey] = await readdir(folder);
    const sums = join(folder, diskKey!, `${previous}.vhd.sums`);
    const table = await readFile(sums);
    table[40] = table[40]! ^ 0xff;
    await writeFile(sums, table);
    await writeGuest(stack, web, [{ disk: 0, percent: 5, seed: 10 }]);
    const before = await served();
    const detail = await runPolicyAndWait(stack.control, 'both');
    const bytes = (await served()) - before;
    const task = (remote: string) => detail.tasks.find((x) => x.kind === 'backup' && x.remote === remote)!;
    assert.equal(task('far').state, 'failed');
    assert.match(task('far').errorMessage, /CommitBackup failed: DATA_LOSS: .*checksum file is damaged/);
    for (const remote of ['nas', 'offsite']) assert.equal(task(remote).state, 'succeeded', `${remote}: ${task(remote).errorCode} ${task(remote).errorMessage}`);
    const committed = JSON.parse(task('nas').resultJson) as { backupId: string; bytesSent: number };
    assert.ok(bytes < 1.2 * committed.bytesSent + MiB, `one export: ${bytes} served`);
    assert.equal((await stack.control.listBackups({ vmUuid: web.uuid, remote: 'far', all: false })).backups.some((b) => b.id === JSON.parse(task('far').payloadJson).backupId), false, 'far holds nothing of it');
    console.log(`# a remote refused the commit: ${task('far').errorCode}; nas and offsite committed, the pool served ${bytes} bytes`);
    await stack.control.updatePolicy({ name: 'both', settings: policySettings('both', [web], ['nas', 'offsite'], { retention: 5, fullInterval: 0 }) });
  });

  it('a remote that fails fails only its own task: the other takes the backup from the same export, and its chain goes on', async (t) => {
    small = await mountSmallFilesystem(4 * MiB);
    if ('skip' in small) return t.skip(small.skip);
    const remote = await stack.startStorage('small', small.path);
    await stack.control.addRemote({ name: 'small', address: remote.address, site: 'lab', location: remote.root, description: 'a 4 MiB tmpfs' });
    const db = await findVm(stack, 'lab-one', 'db');
    await stack.control.createPolicy({ settings: policySettings('iso', [db], ['offsite', 'small'], { retention: 5, fullInterval: 0 }) });
    const before = await served();
    const run = await runPolicyAndWait(stack.control, 'iso');
    const bytes = (await served()) - before;
    const task = (remote: string) => run.tasks.find((x) => x.kind === 'backup' && x.remote === remote)!;
    assert.equal(task('small').state, 'failed');
    assert.equal(task('small').errorCode, 'REMOTE_FULL', task('small').errorMessage);
    assert.equal(task('offsite').state, 'succeeded', `${task('offsite').errorCode}: ${task('offsite').errorMessage}`);
    const kept = (await stack.control.listBackups({ vmUuid: db.uuid, remote: 'offsite', all: false })).backups;
    assert.equal(kept.length, 1, 'offsite took the backup');
    console.log(`# a remote refused: the pool served ${bytes} bytes; offsite's backup is ${kept[0]!.sizeBytes} bytes`);
    assert.ok(bytes < 1.2 * Number(kept[0]!.sizeBytes) + MiB, `one export for the run: ${bytes} served`);
    const refs = (await stack.pools.get('lab-one')!.admin.state()).vms.filter((v) => v.isSnapshot && v.snapshotOf === db.uuid);
    assert.equal(refs.length, 1, 'one reference: the new snapshot, for offsite');
    // small leaves the policy; the next run is a delta on offsite's chain, from the reference the failed run left.
    await stack.control.updatePolicy({ name: 'iso', settings: policySettings('iso', [db], ['offsite'], { retention: 5, fullInterval: 0 }) });
    await writeGuest(stack, db, [{ disk: 0, percent: 5, seed: 11 }]);
    const next = await backUp(stack, 'iso', [db], ledger);
    assert.equal(next.backup(db, 'offsite').fullDisks, 0, 'a delta');
    const id = next.backup(db, 'offsite').backupId;
    await restoreChecked(stack, ledger, { vm: db, what: { backupId: id }, remote: 'offsite', toPool: 'lab-one', srName: 'Local storage', expectedBackupId: id });
  });
});
