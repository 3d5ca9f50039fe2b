// The seed's story line by line, end to end on real parts: two lab pools (XAPI through the real
// xen-api client), two storage agents, two host agents and the coordinator — each a real
// `deltachain` process — on Postgres and NATS JetStream. Every restore is checked disk by disk
// against the lab pool's digests taken when the backup ran. The scenarios use different VMs and
// policies, so they share one stack; scenario 4 continues scenario 1's chain.
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '../shared/grpc/storage-client.js';
import { backupKind, checkDelta, planGuestWrites, type LabStack } from '../lab/story/index.js';
import { startE2eStack, type E2eStack } from './support/e2e-stack.js';
import { backUp, destroyVmAndItsSr, DigestLedger, findVm, policySettings, restoreChecked, snapshotCount, srUuidOf, writeGuest, type E2eVm } from './support/e2e-backups.js';
import { runCli } from './support/e2e-cli.js';

const MiB = 1024 * 1024;
const SRS = [{ name: 'Local storage', type: 'ext', size: 2 ** 34 }, { name: 'Web SR', type: 'ext', size: 2 ** 34 }, { name: 'Restore SR', type: 'ext', size: 2 ** 34 }];
const POOL_A = {
  name: 'lab-a',
  seed: 11,
  fleet: {
    srs: SRS,
    vms: [
      { name: 'web', disks: [{ name: 'web root', size: 32 * MiB, sr: 'Web SR', fill: 40 }, { name: 'web data', size: 16 * MiB, sr: 'Web SR', fill: 50 }] },
      { name: 'db', disks: [{ name: 'db root', size: 32 * MiB, fill: 30 }] },
      { name: 'app', disks: [{ name: 'app root', size: 16 * MiB, fill: 50 }] },
      { name: 'api', disks: [{ name: 'api root', size: 16 * MiB, fill: 40 }] },
    ],
  },
};
const POOL_B = { name: 'lab-b', seed: 12, fleet: { srs: [SRS[0]!, SRS[2]!], vms: [{ name: 'mail', disks: [{ name: 'mail root', size: 32 * MiB, fill: 30 }, { name: 'mail spool', size: 16 * MiB, fill: 20 }] }] } };

describe('end to end: the seed, line by line', { timeout: 600_000 }, () => {
  let e2e: E2eStack;
  let stack: LabStack;
  const ledger = new DigestLedger();

  before(async () => {
    e2e = await startE2eStack({ pools: [POOL_A, POOL_B], remotes: ['nas', 'offsite'] });
    stack = e2e.stack;
  });
  after(() => e2e?.close());

  describe('one VM, retention 3, full interval 0, ten nights', () => {
    let web: E2eVm;
    const retained: string[] = [];

    it('1, 2, 3, 5: one full then only deltas of the changed blocks; after run 5 exactly 3 dates, merged on the storage agent, each restoring byte for byte; one reference snapshot after each run', async () => {
      web = await findVm(stack, 'lab-a', 'web');
      await stack.control.createPolicy({ settings: policySettings('continuous', [web], ['nas'], { retention: 3, fullInterval: 0 }) });
      const ids: string[] = [];
      for (let run = 1; run <= 10; run++) {
        // Day 6 the guest writes nothing: that delta must be (almost) empty.
        const changed = run === 1 || run === 6 ? 0 : await writeGuest(stack, web, planGuestWrites(run, 0, web.vdis.length, 3));
        const backup = (await backUp(stack, 'continuous', [web], ledger)).backup(web, 'nas');
        ids.push(backup.backupId);
        if (run === 1) assert.equal(backupKind(backup), 'full', 'run 1 is a full');
        else {
          const check = checkDelta('web', backup, changed);
          assert.ok(check.ok, `run ${run}: ${check.text}`);
          assert.deepEqual(new Set(Object.values(backup.plan)), new Set(['delta']), `run ${run} was planned as a delta of every disk`);
        }
        assert.equal(await snapshotCount(stack, web), 1, `run ${run}: exactly one reference snapshot of web on the pool`);
        if (run === 5) await checkRetainedAfterRun5(web, ids);
      }
      const runs = (await stack.control.listRuns({ policy: 'continuous', limit: 20 })).runs;
      assert.equal(runs.length, 10);
      const backups = (await stack.control.listBackups({ vmUuid: web.uuid, remote: 'nas', all: false })).backups;
      assert.deepEqual(backups.map((b) => b.id), ids.slice(-3), 'the three newest dates remain');
      retained.push(...ids.slice(-3));
    });

    async function checkRetainedAfterRun5(vm: E2eVm, ids: string[]): Promise<void> {
      const catalogue = (await stack.control.listBackups({ vmUuid: vm.uuid, remote: 'nas', all: false })).backups;
      const storage = new StorageClient(stack.remotes.get('nas')!.address, stack.security.coordinatorCredentials());
      const onRemote = await storage.listBackups(vm.uuid).finally(() => storage.close());
      assert.deepEqual(catalogue.map((b) => b.id), ids.slice(2), 'the catalogue keeps runs 3, 4 and 5');
      // As a set: the remote orders by snapshot time, which XAPI gives to the second, and two
      // nights of this test can fall in the same second (then the order is by id).
      assert.deepEqual(onRemote.map((b) => b.backupId).sort(), ids.slice(2).sort(), 'so does the remote');
      const runs = (await stack.control.listRuns({ policy: 'continuous', limit: 20 })).runs;
      assert.equal(runs.length, 5);
      const mergeTasks = [];
      for (const run of runs) {
        mergeTasks.push(...(await stack.control.getRun({ id: run.id })).run!.tasks.filter((t) => t.kind === 'merge'));
      }
      assert.equal(mergeTasks.length, 2, 'runs 4 and 5 each merged once');
      for (const t of mergeTasks) assert.deepEqual([t.addressKind, t.address, t.state], ['remote', 'nas', 'succeeded'], 'merged by the storage agent of the remote');
      for (const id of ids.slice(2)) await restoreChecked(stack, ledger, { vm, what: { backupId: id }, remote: 'nas', toPool: 'lab-a', srName: 'Restore SR', expectedBackupId: id });
    }

    it('4: restore at any date, after the source VM and its SR are destroyed', async () => {
      assert.equal(retained.length, 3, 'scenario 1 left three dates');
      await destroyVmAndItsSr(stack, web);
      assert.equal((await stack.pools.get('lab-a')!.admin.state()).vms.some((v) => v.uuid === web.uuid), false, 'the source VM is gone');
      const backups = (await stack.control.listBackups({ vmUuid: web.uuid, remote: 'nas', all: false })).backups;
      for (const b of backups) {
        // A date between this backup and the next one resolves to this backup — or, when snapshots of
        // the same second share its time, to the last of them listed (oldest first: the newest).
        const newest = backups.filter((o) => o.takenAtMs === b.takenAtMs).at(-1)!;
        await restoreChecked(stack, ledger, { vm: web, what: { atMs: b.takenAtMs + 500 }, remote: 'nas', toPool: 'lab-a', srName: 'Restore SR', expectedBackupId: newest.id });
      }
      const srUuid = await srUuidOf(stack, 'lab-a', 'Restore SR');
      await assert.rejects(
        stack.control.restore({ what: { $case: 'point', value: { vmUuid: web.uuid, atMs: backups[0]!.takenAtMs - 1000, remote: 'nas' } }, pool: 'lab-a', srUuid, name: '', backupRemote: '' }),
        new RegExp(`the earliest is .*\\(${backups[0]!.id}\\)`),
        'a date before the oldest retained backup is refused, naming the earliest',
      );
    });
  });

  it('7: with full interval 2 the runs go full, delta, full, delta', async () => {
    const app = await findVm(stack, 'lab-a', 'app');
    await stack.control.createPolicy({ settings: policySettings('every-other', [app], ['nas'], { retention: 10, fullInterval: 2 }) });
    const kinds: string[] = [];
    const why: string[] = [];
    let last = '';
    for (let run = 1; run <= 4; run++) {
      if (run > 1) await writeGuest(stack, app, planGuestWrites(run, 1, 1, 5));
      const done = await backUp(stack, 'every-other', [app], ledger);
      const backup = done.backup(app, 'nas');
      kinds.push(backupKind(backup));
      why.push(`run ${run}: ${backupKind(backup)}, planned ${JSON.stringify(done.plans(app, 'nas'))}`);
      last = backup.backupId;
    }
    assert.deepEqual(kinds, ['full', 'delta', 'full', 'delta'], `${why.join('\n')}\nhost agent warnings:\n${await e2e.warnings('host-lab-a')}`);
    await restoreChecked(stack, ledger, { vm: app, what: { backupId: last }, remote: 'nas', toPool: 'lab-a', srName: 'Restore SR', expectedBackupId: last });
  });

  it('6: an initial seed — a plain copy of remote A, scanned as remote B, continues with a delta when the policy is retargeted', async () => {
    const db = await findVm(stack, 'lab-a', 'db');
    await stack.control.createPolicy({ settings: policySettings('seeded', [db], ['offsite'], { retention: 5, fullInterval: 0 }) });
    await backUp(stack, 'seeded', [db], ledger);
    await writeGuest(stack, db, planGuestWrites(1, 2, 1, 9));
    await backUp(stack, 'seeded', [db], ledger);
    const copy = join(e2e.folder, 'remotes', 'seed');
    await cp(stack.remotes.get('offsite')!.root, copy, { recursive: true });
    const seed = await stack.startStorage('seed', copy);
    await stack.control.addRemote({ name: 'seed', address: seed.address, site: 'lab', location: copy, description: 'a copy of offsite' });
    const scan = await runCli(stack, ['remote', 'scan', 'seed', '--json']);
    assert.equal(scan.code, 0, scan.stderr);
    const adopted = (await stack.control.listBackups({ vmUuid: db.uuid, remote: 'seed', all: false })).backups;
    assert.equal(adopted.length, 2, 'the scan adopted both backups of db');
    await stack.control.updatePolicy({ name: 'seeded', settings: policySettings('seeded', [db], ['seed'], { retention: 5, fullInterval: 0 }) });
    const changed = await writeGuest(stack, db, planGuestWrites(2, 2, 1, 9));
    const backup = (await backUp(stack, 'seeded', [db], ledger)).backup(db, 'seed');
    const check = checkDelta('db', backup, changed);
    assert.ok(check.ok, `the first run to the seeded remote: ${check.text}`);
    await restoreChecked(stack, ledger, { vm: db, what: { backupId: backup.backupId }, remote: 'seed', toPool: 'lab-a', srName: 'Restore SR', expectedBackupId: backup.backupId });
  });

  it('8: two pools and two remotes at once; each VM restored to the other pool', async () => {
    const api = await findVm(stack, 'lab-a', 'api');
    const mail = await findVm(stack, 'lab-b', 'mail');
    await stack.control.createPolicy({ settings: policySettings('two-pools', [api, mail], ['nas', 'offsite'], { retention: 3, fullInterval: 0 }) });
    const first = await backUp(stack, 'two-pools', [api, mail], ledger);
    assert.equal(first.summary.backups.length, 4, 'each VM to each remote');
    await writeGuest(stack, mail, planGuestWrites(1, 0, 2, 4));
    await writeGuest(stack, api, planGuestWrites(1, 1, 1, 4));
    const second = await backUp(stack, 'two-pools', [api, mail], ledger);
    for (const vm of [api, mail]) for (const remote of ['nas', 'offsite']) assert.equal(backupKind(second.backup(vm, remote)), 'delta', `${vm.name} to ${remote}`);
    await restoreChecked(stack, ledger, { vm: mail, what: { backupId: second.backup(mail, 'offsite').backupId }, remote: 'offsite', toPool: 'lab-a', srName: 'Restore SR', expectedBackupId: second.backup(mail, 'offsite').backupId });
    await restoreChecked(stack, ledger, { vm: api, what: { backupId: first.backup(api, 'nas').backupId }, remote: 'nas', toPool: 'lab-b', srName: 'Restore SR', expectedBackupId: first.backup(api, 'nas').backupId });
  });
});
