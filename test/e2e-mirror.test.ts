// Mirrors end to end on real parts (a lab pool through the real xen-api client, its host agent,
// three storage agents and the coordinator, each a real `deltachain` process): a policy backs up
// to `nas`; a mirror copies nas's backups to `offsite`, storage agent to storage agent. The first
// copy is the whole disk, every later one the backup's own delta (the bytes pulled equal what the
// host agent sent nas, not the disk); the pool serves nothing for a copy; the target keeps its own
// retention; a mirror created late starts at the newest points (the first one whole, the next as a
// delta); every copied date restores to the lab's digests; `backup points` shows where each
// restore point exists.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LabStack } from '../lab/story/index.js';
import { startE2eStack, type E2eStack } from './support/e2e-stack.js';
import { runCli } from './support/e2e-cli.js';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { waitForTask } from '../lab/story/run-and-wait.js';
import { waitFor } from './support/deploy-processes.js';
import { backUp, DigestLedger, findVm, policySettings, restoreChecked, writeGuest, type BackupRun, type E2eVm } from './support/e2e-backups.js';

const MiB = 1024 * 1024;
const POOL = {
  name: 'lab-mirror',
  seed: 43,
  fleet: {
    srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 32 }],
    vms: [{ name: 'web', disks: [{ name: 'web root', size: 16 * MiB, fill: 50 }] }],
  },
};

interface CopyResult {
  backupId: string;
  bytesReceived: number;
  disks: { diskKey: string; mode: string; bytesReceived: number }[];
}

describe('mirrors', { timeout: 300_000 }, () => {
  let e2e: E2eStack;
  let stack: LabStack;
  let web: E2eVm;
  const ledger = new DigestLedger();
  const runs: BackupRun[] = [];

  const served = async () => {
    const { served } = await stack.pools.get('lab-mirror')!.admin.state();
    return served.export + served.nbd;
  };
  const backupsOn = async (remote: string) => (await stack.control.listBackups({ vmUuid: web.uuid, remote, all: false })).backups.map((b) => b.id).sort();

  /** The mirror copies of a run (the run waits for them: they are its follow-ups). */
  async function copiesOf(run: BackupRun): Promise<CopyResult[]> {
    const { run: detail } = await stack.control.getRun({ id: run.summary.runId });
    const copies = detail!.tasks.filter((t) => t.kind === 'mirror');
    for (const t of copies) assert.equal(t.state, 'succeeded', `copy ${t.id}: ${t.errorCode} ${t.errorMessage}`);
    return copies.map((t) => JSON.parse(t.resultJson) as CopyResult);
  }

  /** Records the source's digests for the copies on `remote` (same backup ids). */
  function copied(remote: string, ids: readonly string[]): void {
    for (const id of ids) ledger.record(remote, id, ledger.get('nas', id));
  }

  async function mirrorState(name: string) {
    return waitFor(`mirror ${name} idle`, async () => {
      const found = (await stack.control.listMirrors()).mirrors.find((m) => m.name === name);
      return found && found.copying === 0 ? found : undefined;
    }, 120_000);
  }

  before(async () => {
    e2e = await startE2eStack({ pools: [POOL], remotes: ['nas', 'offsite', 'far', 'vault'] });
    stack = e2e.stack;
    web = await findVm(stack, 'lab-mirror', 'web');
    await stack.control.createPolicy({ settings: policySettings('local', [web], ['nas'], { retention: 5, fullInterval: 0 }) });
  });
  after(async () => {
    await e2e?.close();
  });

  it('bad mirrors are refused with what to do, and nothing is created', async () => {
    const same = await runCli(stack, ['mirror', 'create', 'loop', '--from', 'nas', '--to', 'nas', '--retention', '3']);
    assert.notEqual(same.code, 0);
    assert.match(same.stderr, /another remote/);
    const unknown = await runCli(stack, ['mirror', 'create', 'nowhere', '--from', 'nas', '--to', 'mars', '--retention', '3']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /not registered.*remote add/);
    assert.deepEqual((await stack.control.listMirrors()).mirrors, []);
  });

  it('the first backup crosses whole, then each backup only as its own delta; the pool serves nothing for a copy', async () => {
    const created = await runCli(stack, ['mirror', 'create', 'away', '--from', 'nas', '--to', 'offsite', '--retention', '2']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /nothing to copy yet/);

    const before = await served();
    const first = await backUp(stack, 'local', [web], ledger);
    runs.push(first);
    const poolBytes = (await served()) - before;
    const [full] = await copiesOf(first);
    assert.ok(full, 'the run copied its backup to offsite');
    assert.equal(full.backupId, first.backup(web, 'nas').backupId, 'the copy keeps the backup id');
    assert.deepEqual(full.disks.map((d) => d.mode), ['full']);
    assert.ok(poolBytes < 1.2 * first.backup(web, 'nas').bytesSent, `the pool served ${poolBytes} bytes for one export and one copy: the copy read no pool`);
    console.log(`# full: nas received ${first.backup(web, 'nas').bytesSent} bytes, the copy pulled ${full.bytesReceived}`);

    await writeGuest(stack, web, [{ disk: 0, percent: 5, seed: 9 }]);
    const second = await backUp(stack, 'local', [web], ledger);
    runs.push(second);
    const [delta] = await copiesOf(second);
    assert.deepEqual(delta!.disks.map((d) => d.mode), ['delta']);
    const sent = second.backup(web, 'nas').bytesSent;
    console.log(`# delta: nas received ${sent} bytes, the copy pulled ${delta!.bytesReceived} (the full copy: ${full.bytesReceived})`);
    assert.ok(delta!.bytesReceived < full.bytesReceived / 3, `a delta copy pulled ${delta!.bytesReceived} bytes, the full ${full.bytesReceived}`);
    assert.ok(Math.abs(delta!.bytesReceived - sent) < 0.1 * sent + 64 * 1024, `the copy pulled ${delta!.bytesReceived} bytes for a delta of ${sent}`);
    copied('offsite', [full.backupId, delta!.backupId]);
    assert.deepEqual(await backupsOn('offsite'), [full.backupId, delta!.backupId].sort());
  });

  it("the target keeps its own retention: offsite 2, nas 5", async () => {
    for (const seed of [11, 12]) {
      await writeGuest(stack, web, [{ disk: 0, percent: 3, seed }]);
      const run = await backUp(stack, 'local', [web], ledger);
      runs.push(run);
      const [copy] = await copiesOf(run);
      assert.deepEqual(copy!.disks.map((d) => d.mode), ['delta']);
      copied('offsite', [copy!.backupId]);
    }
    const newest = runs.slice(-2).map((r) => r.backup(web, 'nas').backupId);
    assert.deepEqual(await backupsOn('offsite'), [...newest].sort(), 'offsite merged down to its newest 2');
    assert.equal((await backupsOn('nas')).length, 4);
    const state = await mirrorState('away');
    assert.equal(state.behind, 0);
  });

  it('a mirror created late starts at the newest points: the first whole (the chain folded), the next as a delta', async () => {
    const created = await stack.control.createMirror({ name: 'late', sourceRemote: 'nas', targetRemote: 'far', vmUuids: [], retention: 2, start: true });
    assert.equal(created.taskIds.length, 1, 'one copy at a time for the VM');
    await mirrorState('late');
    const newest = runs.slice(-2).map((r) => r.backup(web, 'nas').backupId);
    assert.deepEqual(await backupsOn('far'), [...newest].sort());
    const tasks = await Promise.all(created.taskIds.map(async (id) => (await stack.control.getTask({ id })).task!));
    assert.deepEqual(tasks.map((t) => (JSON.parse(t.resultJson) as CopyResult).disks.map((d) => d.mode)), [['full']]);
    copied('far', newest);
  });

  it('every copied date restores to the digests the pool had when it was taken', async () => {
    for (const remote of ['offsite', 'far']) {
      for (const backupId of await backupsOn(remote)) {
        await restoreChecked(stack, ledger, { vm: web, what: { backupId }, remote, toPool: 'lab-mirror', srName: 'Local storage', expectedBackupId: backupId });
      }
    }
  });

  it('a seed copied by hand and adopted by a scan: the mirror then moves only the newer backup, as a delta', async () => {
    const seeded = await backupsOn('nas');
    await cp(join(stack.remotes.get('nas')!.root, 'vms'), join(stack.remotes.get('vault')!.root, 'vms'), { recursive: true });
    const { task: scan } = await stack.control.scanRemote({ name: 'vault', removeGarbage: false, graceSeconds: 0, accept: false });
    const scanned = await waitForTask(stack.control, scan!.id);
    assert.equal(scanned.state, 'succeeded', scanned.errorMessage);
    assert.deepEqual(await backupsOn('vault'), seeded, 'the scan adopted the seed as committed (the catalogue vouches for it)');

    await writeGuest(stack, web, [{ disk: 0, percent: 4, seed: 13 }]);
    const run = await backUp(stack, 'local', [web], ledger);
    runs.push(run);
    copied('offsite', (await copiesOf(run)).filter((c) => c.backupId === run.backup(web, 'nas').backupId).slice(0, 1).map((c) => c.backupId));
    copied('far', [run.backup(web, 'nas').backupId]);
    const created = await stack.control.createMirror({ name: 'vault-copy', sourceRemote: 'nas', targetRemote: 'vault', vmUuids: [], retention: 10, start: true });
    assert.equal(created.taskIds.length, 1);
    const copy = await waitForTask(stack.control, created.taskIds[0]!);
    assert.equal(copy.state, 'succeeded', copy.errorMessage);
    const result = JSON.parse(copy.resultJson) as CopyResult;
    assert.equal(result.backupId, run.backup(web, 'nas').backupId, 'only the backup newer than the seed crossed');
    assert.deepEqual(result.disks.map((d) => d.mode), ['delta']);
    console.log(`# seeded: the copy pulled ${result.bytesReceived} bytes for a delta of ${run.backup(web, 'nas').bytesSent}`);
    assert.equal((await mirrorState('vault-copy')).behind, 0);
    copied('vault', [result.backupId]);
    await restoreChecked(stack, ledger, { vm: web, what: { backupId: result.backupId }, remote: 'vault', toPool: 'lab-mirror', srName: 'Local storage', expectedBackupId: result.backupId });
  });

  it('`mirror list` and `backup points` show where each restore point exists', async () => {
    const list = await runCli(stack, ['mirror', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /away\s+nas\s+offsite/);
    assert.match(list.stdout, /late\s+nas\s+far/);
    const points = await runCli(stack, ['backup', 'points', '--vm', web.uuid]);
    assert.equal(points.code, 0, points.stderr);
    assert.match(points.stdout, /OFFSITE/i);
    const lines = points.stdout.trim().split('\n').slice(1);
    assert.equal(lines.length, 5, points.stdout);
    const run = await runCli(stack, ['mirror', 'run', 'away', '--wait']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /up to date/);
  });
});
