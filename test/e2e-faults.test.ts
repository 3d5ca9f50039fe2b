// Faults during backups, end to end on real processes (a lab pool, a host agent, storage agents,
// the coordinator, Postgres, NATS JetStream), each checked the way an operator would: the run's
// outcome, `run show`, the catalogue against the remote's files, and a `remote scan`.
//   (a) an export cut once: the same run succeeds (the disk is exported again within the attempt)
//       and restores byte for byte;
//   (b) the storage agent SIGKILLed mid-upload and restarted: the same run succeeds;
//   (c) a commit that times out (the storage agent SIGSTOPped during CommitBackup, SIGCONT after
//       the host agent gave up on it): the next attempt finds it committed and keeps that run's
//       snapshot as the reference (the next run is a delta);
//   (d) the remote's file system full (a small tmpfs): the task fails at once with side
//       remote-full and a message naming the remote, and nothing is left on the remote.
// After each, every file on the remote is one the catalogue lists and a scan finds no garbage.
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as wire from '../shared/proto/gen/deltachain/control/v1/control.js';
import { digestVm, waitForRun, type LabStack } from '../lab/story/index.js';
import { startE2eStack, type E2eStack } from './support/e2e-stack.js';
import { backUp, DigestLedger, findVm, policySettings, restoreChecked, snapshotCount, type E2eVm } from './support/e2e-backups.js';
import { runCli } from './support/e2e-cli.js';
import { scanGarbage, unaccountedFiles } from './support/remote-accounting.js';
import { mountSmallFilesystem, type SmallFilesystem } from './support/small-filesystem.js';

const MiB = 1024 * 1024;
const POOL = {
  name: 'lab-f',
  seed: 21,
  // Short enough that a stopped storage agent makes a commit time out in seconds.
  storageCallTimeoutMs: 2500,
  fleet: {
    srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 34 }, { name: 'Restore SR', type: 'ext', size: 2 ** 34 }],
    vms: [
      { name: 'cut', disks: [{ name: 'cut root', size: 16 * MiB, fill: 50 }] },
      { name: 'kill', disks: [{ name: 'kill root', size: 32 * MiB, fill: 50 }, { name: 'kill data', size: 8 * MiB, fill: 50 }] },
      { name: 'commit', disks: [{ name: 'commit root', size: 8 * MiB, fill: 50 }] },
      { name: 'full', disks: [{ name: 'full root', size: 4 * MiB, fill: 50 }, { name: 'full data', size: 24 * MiB, fill: 60 }] },
    ],
  },
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

describe('end to end: faults during backups', { timeout: 600_000 }, () => {
  let e2e: E2eStack;
  let stack: LabStack;
  let small: SmallFilesystem | { skip: string } | undefined;
  const ledger = new DigestLedger();
  const nasRoot = (): string => stack.remotes.get('nas')!.root;

  before(async () => {
    e2e = await startE2eStack({ pools: [POOL], remotes: ['nas'] });
    stack = e2e.stack;
  });
  after(async () => {
    await e2e?.close();
    if (small && !('skip' in small)) await small.unmount();
  });

  async function policyFor(vm: E2eVm, remote: string): Promise<string> {
    const name = `faults-${vm.name}`;
    await stack.control.createPolicy({ settings: policySettings(name, [vm], [remote], { retention: 5, fullInterval: 0 }) });
    return name;
  }

  function backupTask(run: wire.RunDetail, vm: E2eVm): wire.TaskInfo {
    const task = run.tasks.find((t) => t.kind === 'backup' && t.vmUuid === vm.uuid);
    assert.ok(task, `the run has a backup task for ${vm.name}`);
    return task;
  }

  async function assertNothingLeftBehind(remote: string, root: string): Promise<void> {
    assert.deepEqual(await unaccountedFiles(stack, remote, root), [], `every file on ${remote} is a backup the catalogue lists`);
    assert.equal(await scanGarbage(stack, remote), 0, `a scan of ${remote} finds no garbage`);
  }

  it('(a) an export cut once: the same run succeeds on a later try, and the backup restores byte for byte', async () => {
    const vm = await findVm(stack, POOL.name, 'cut');
    const policy = await policyFor(vm, 'nas');
    await stack.pools.get(POOL.name)!.admin.setFaults({ exportCut: { afterBytes: 2 * MiB } });
    const run = await backUp(stack, policy, [vm], ledger);
    assert.deepEqual(await stack.pools.get(POOL.name)!.admin.faults(), {}, 'the export was cut');
    const backup = run.backup(vm, 'nas');
    await restoreChecked(stack, ledger, { vm, what: { backupId: backup.backupId }, remote: 'nas', toPool: POOL.name, srName: 'Restore SR', expectedBackupId: backup.backupId });
    await assertNothingLeftBehind('nas', nasRoot());
  });

  it('(b) the storage agent killed (SIGKILL) mid-upload and restarted: the same run succeeds', async () => {
    const vm = await findVm(stack, POOL.name, 'kill');
    const policy = await policyFor(vm, 'nas');
    const pool = stack.pools.get(POOL.name)!;
    const digests = await digestVm(pool.admin, vm.uuid);
    await pool.admin.setFaults({ slowStreams: { bytesPerSecond: 6 * MiB } });
    const { run: started } = await stack.control.runPolicy({ name: policy, forceFull: false, vmUuids: [] });
    const disks = join(nasRoot(), 'vms', vm.uuid, 'disks');
    await until('an upload under way (a temporary over 1 MiB)', async () => {
      for (const entry of await readdir(disks, { recursive: true }).catch(() => [] as string[])) {
        if (String(entry).endsWith('.tmp') && ((await stat(join(disks, String(entry))).catch(() => undefined))?.size ?? 0) > MiB) return true;
      }
      return undefined;
    }, 60_000);
    const killed = stack.remotes.get('nas')!;
    await killed.process.stop('SIGKILL');
    await pool.admin.clearFaults();
    await stack.startStorage('nas', killed.root, Number(killed.address.split(':').pop()));
    const run = await waitForRun(stack.control, started!.run!.id);
    const task = backupTask(run, vm);
    assert.equal(run.run!.state, 'succeeded', `${task.errorCode}: ${task.errorMessage}`);
    const hostLog = pool.host.logs.filter((l) => l.msg === 'disk transfer interrupted; sending the disk again' && l.side === 'storage');
    assert.ok(hostLog.length > 0, 'the host agent sent a disk again after the storage agent went away');
    const backupId = (JSON.parse(task.resultJson) as { backupId: string }).backupId;
    ledger.record('nas', backupId, digests);
    await restoreChecked(stack, ledger, { vm, what: { backupId }, remote: 'nas', toPool: POOL.name, srName: 'Restore SR', expectedBackupId: backupId });
    await assertNothingLeftBehind('nas', nasRoot());
  });

  it('(c) a commit that times out: the next attempt finds it committed and keeps its snapshot as the reference', async () => {
    const vm = await findVm(stack, POOL.name, 'commit');
    const policy = await policyFor(vm, 'nas');
    const pool = stack.pools.get(POOL.name)!;
    const lab = pool.process.child;
    const storage = (): typeof lab => stack.remotes.get('nas')!.process.child;
    // A slow export, so the disk folder is watched well before the disk is put in place.
    await pool.admin.setFaults({ slowStreams: { bytesPerSecond: 2 * MiB } });
    const { run: started } = await stack.control.runPolicy({ name: policy, forceFull: false, vmUuids: [] });
    const runId = started!.run!.id;
    const describeRun = async (): Promise<string> => {
      const task = backupTask((await stack.control.getRun({ id: runId })).run!, vm);
      return `task ${task.state}, attempt ${task.attempt}, ${task.errorCode} (${task.errorSide}): ${task.errorMessage}\nhost agent: ${await e2e.warnings(`host-${POOL.name}`)}`;
    };
    const folder = await until('the disk folder', async () => {
      const keys = await readdir(join(nasRoot(), 'vms', vm.uuid, 'disks')).catch(() => [] as string[]);
      return keys.length > 0 ? join(nasRoot(), 'vms', vm.uuid, 'disks', keys[0]!) : undefined;
    }, 60_000, 5);
    // The disk is in place: hold the pool (the host agent is about to read the records it
    // commits), stop the storage agent once it has answered the upload, let the host agent commit.
    const watcher = watch(folder);
    try {
      const placed = new Promise<void>((resolve) =>
        watcher.on('change', (_event, name) => {
          if (/^[^.].*\.vhd$/.test(String(name)) && lab.kill('SIGSTOP')) resolve();
        }),
      );
      const already = (await readdir(folder)).filter((n) => /^[^.].*\.vhd$/.test(n));
      assert.deepEqual(already, [], 'the disk was put in place before the folder was watched (the export was not slow enough)');
      await Promise.race([placed, sleep(60_000).then(async () => assert.fail(`the disk was never put in place: ${await describeRun()}`))]);
    } finally {
      watcher.close();
    }
    try {
      await sleep(1000);
      storage().kill('SIGSTOP');
      lab.kill('SIGCONT');
      const unconfirmed = await until('the commit to be given up on', async () => {
        const task = backupTask((await stack.control.getRun({ id: runId })).run!, vm);
        return task.errorCode === 'COMMIT_UNCONFIRMED' ? task : undefined;
      }, 60_000, 50).catch(async (error: Error) => assert.fail(`${error.message}: ${await describeRun()}`));
      assert.equal(unconfirmed.errorSide, 'storage');
      assert.match(unconfirmed.errorMessage, /CommitBackup failed: DEADLINE_EXCEEDED: no answer within 2500 ms/);
    } finally {
      lab.kill('SIGCONT');
      storage().kill('SIGCONT');
      await pool.admin.clearFaults();
    }
    const run = await waitForRun(stack.control, runId);
    const task = backupTask(run, vm);
    assert.equal(run.run!.state, 'succeeded', await describeRun());
    assert.ok(task.attempt >= 2, `a later attempt reported it (attempt ${task.attempt})`);
    assert.equal(await snapshotCount(stack, vm), 1, 'one reference snapshot');
    const next = await backUp(stack, policy, [vm], ledger);
    assert.deepEqual(Object.values(next.plans(vm, 'nas')).map((p) => p.split(':')[0]), ['delta'], 'the next run is a delta of the kept snapshot');
    assert.equal(next.backup(vm, 'nas').fullDisks, 0, 'and its disk went as a delta (the reference was on the pool)');
    await assertNothingLeftBehind('nas', nasRoot());
  });

  it('(d) the remote full: the task fails with side remote-full naming the remote, and nothing is left on it', async (t) => {
    small = await mountSmallFilesystem(8 * MiB);
    if ('skip' in small) return t.skip(small.skip);
    const remote = await stack.startStorage('small', small.path);
    await stack.control.addRemote({ name: 'small', address: remote.address, site: 'lab', location: remote.root, description: 'an 8 MiB tmpfs' });
    const vm = await findVm(stack, POOL.name, 'full');
    const policy = await policyFor(vm, 'small');
    const { run: started } = await stack.control.runPolicy({ name: policy, forceFull: false, vmUuids: [] });
    const run = await waitForRun(stack.control, started!.run!.id);
    const task = backupTask(run, vm);
    assert.equal(task.state, 'failed');
    assert.equal(task.errorCode, 'REMOTE_FULL', task.errorMessage);
    assert.equal(task.errorSide, 'remote-full');
    // Refused before writing: the tmpfs is below the remote's free-space floor (storage.limits);
    // running out mid-write (ENOSPC) is the storage level's test (storage-discard).
    assert.match(task.errorMessage, /remote small has \d+ bytes free at .*, below the floor of \d+ bytes \(storage\.limits\.freeSpaceFloorBytes\)/);
    assert.equal(task.attempt, 1, 'not retried: the operator must free space first');
    const shown = await runCli(stack, ['run', 'show', run.run!.id]);
    assert.match(shown.stdout, /SIDE\s+ERROR/);
    assert.match(shown.stdout, /remote-full\s+REMOTE_FULL: storage agent of remote small: PutDisk failed: RESOURCE_EXHAUSTED: remote small has \d+ bytes free/);
    await assertNothingLeftBehind('small', remote.root);
  });
});
