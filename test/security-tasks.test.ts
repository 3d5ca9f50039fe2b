// Attacks with forged tasks, against the lab stack as `npm run lab` runs it (its own nats-server
// with one nkey user per process, the coordinator, a real storage agent of remote `nas` and host
// agent of pool `lab`). The attacker holds the coordinator's stolen NATS seed — the only
// credential the server lets publish tasks — but not its signing key. Each test is one attack on
// an agent's queue (the storage agent's; the host agent's for the forged backups): the agent refuses it loudly (an error in its log, a `refused` event
// the coordinator logs), and nothing changes on the remote or in the catalogue.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import postgres from 'postgres';
import type { LabStack } from '../lab/story/index.js';
import { runPolicyAndWait } from '../lab/story/index.js';
import { publishSignedTask } from '../shared/nats/index.js';
import { Task } from '../shared/proto/gen/deltachain/tasks/v1/task.js';
import { generateSigningKeyPair, readSigner, signerFromPem, type Signer } from '../shared/signing/index.js';
import { signTask } from '../shared/task-trust/index.js';
import { startE2eStack, type E2eStack } from './support/e2e-stack.js';
import { findVm, policySettings, type E2eVm } from './support/e2e-backups.js';
import { connectAs, eventsApplied, type NatsUserConnection } from './support/nats-users.js';
import { backupTask } from './support/host-tasks.js';
import { storageTask } from './support/storage-nats.js';
import { remoteFileList } from './support/remote-files.js';

const MiB = 1024 * 1024;
const POOL = { name: 'lab', seed: 41, fleet: { srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 32 }], vms: [{ name: 'web', disks: [{ name: 'web root', size: 8 * MiB, fill: 40 }] }] } };

describe('security: signed tasks', { timeout: 300_000 }, () => {
  let e2e: E2eStack;
  let stack: LabStack;
  let sql: postgres.Sql;
  let thief: NatsUserConnection;
  let coordinatorKey: Signer;
  let web: E2eVm;
  let backupId = '';

  const remoteFiles = (): Promise<string[]> => remoteFileList(stack.remotes.get('nas')!.root);

  async function catalogue(): Promise<unknown> {
    return {
      backups: await sql`select id, remote_name, status from backups order by 1`,
      tasks: await sql`select id, kind, state, attempt, error_code from tasks order by created_at, id`,
    };
  }

  /** The DeleteTask an attacker wants run: remove the VM's only backup. */
  const deleteTask = (): Task => storageTask('nas', { $case: 'delete', value: { vmUuid: web.uuid, backupId } });

  function encoded(task: Task, fields: Partial<Task> = {}): Uint8Array {
    const now = Date.now();
    return Task.encode({ ...task, signedAtMs: now, expiresAtMs: now + 600_000, ...fields }).finish();
  }

  const subject = (): string => thief.names.storageTasks('nas');
  const storageLogs = () => stack.remotes.get('nas')!.process.logs;
  const coordinatorLogs = () => stack.coordinator.logs;

  /** Publishes, then waits until the agent (default: the storage agent) refused it: its log line and the coordinator's. */
  async function refused(publish: () => Promise<void>, taskId: string, reason: RegExp, who: 'storage' | 'host' = 'storage'): Promise<void> {
    const agentLogs = who === 'storage' ? storageLogs : () => stack.pools.get('lab')!.host.logs;
    const files = await remoteFiles();
    const before_ = await catalogue();
    await publish();
    for (let i = 0; ; i++) {
      const agent = agentLogs().find((l) => l.claimedTaskId === taskId && l.level === 50);
      const coordinator = coordinatorLogs().find((l) => l.claimedTaskId === taskId && new RegExp(`${who} agent .*refused a task message`).test(String(l.msg)));
      if (agent && coordinator) {
        assert.match(String(agent.msg), reason, `the ${who} agent says why`);
        assert.match(String(coordinator.msg), reason, 'the coordinator logs the refusal with its reason');
        break;
      }
      assert.ok(i < 200, `the refusal of ${taskId} was logged by the ${who} agent and the coordinator`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await eventsApplied(thief);
    assert.deepEqual(await remoteFiles(), files, 'the backup is still on the remote, untouched');
    assert.deepEqual(await catalogue(), before_, 'the catalogue did not change');
    const queue = who === 'storage' ? thief.names.storageConsumer('nas') : thief.names.hostConsumer('lab');
    const info = await (await jetstream(thief.nc).consumers.get(thief.names.tasksStream, queue)).info();
    assert.equal(info.num_pending + info.num_ack_pending, 0, 'the refused message left the queue (acknowledged, never run)');
  }

  before(async () => {
    e2e = await startE2eStack({ pools: [POOL], remotes: ['nas'] });
    stack = e2e.stack;
    sql = postgres(e2e.databaseUrl, { max: 1, onnotice: () => {} });
    web = await findVm(stack, 'lab', 'web');
    await stack.control.createPolicy({ settings: policySettings('nightly', [web], ['nas'], { retention: 3, fullInterval: 0 }) });
    const night = await runPolicyAndWait(stack.control, 'nightly');
    assert.equal(night.run!.state, 'succeeded', JSON.stringify(night.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    backupId = (await stack.control.listBackups({ vmUuid: web.uuid, remote: 'nas', all: false })).backups[0]!.id;
    thief = await connectAs(stack, 'coordinator');
    coordinatorKey = readSigner(stack.security.signingKey);
  });
  after(async () => {
    await thief?.close();
    await sql?.end({ timeout: 5 });
    await e2e?.close();
  });

  it('an unsigned DeleteTask is refused: the backup stays', async () => {
    const task = deleteTask();
    await refused(() => jetstream(thief.nc).publish(subject(), encoded(task), { msgID: randomUUID() }).then(() => undefined), task.taskId, /is not signed/);
  });

  it('a DeleteTask signed with another key is refused', async () => {
    const task = deleteTask();
    const data = encoded(task);
    const impostor = signerFromPem(generateSigningKeyPair().privatePem, 'impostor');
    await refused(() => publishSignedTask(thief.nc, subject(), data, signTask(impostor, data), randomUUID()), task.taskId, /signature is not the coordinator's/);
  });

  it("a DeleteTask with the coordinator's signature of another task's bytes is refused", async () => {
    const task = deleteTask();
    const signature = signTask(coordinatorKey, encoded(storageTask('nas', { $case: 'scan', value: { removeGarbage: false, graceSeconds: 3600 } })));
    await refused(() => publishSignedTask(thief.nc, subject(), encoded(task), signature, randomUUID()), task.taskId, /signature is not the coordinator's/);
  });

  it('an expired task, even signed by the coordinator, is refused', async () => {
    const task = deleteTask();
    const data = encoded(task, { expiresAtMs: Date.now() - 1000 });
    await refused(() => publishSignedTask(thief.nc, subject(), data, signTask(coordinatorKey, data), randomUUID()), task.taskId, /expired at/);
  });

  it('a signed task for another remote, put on this remote\'s queue, is refused', async () => {
    const task = storageTask('offsite', { $case: 'delete', value: { vmUuid: web.uuid, backupId } });
    const data = encoded(task);
    await refused(() => publishSignedTask(thief.nc, subject(), data, signTask(coordinatorKey, data), randomUUID()), task.taskId, /it is for remote offsite, this agent serves remote nas/);
  });

  it('the host agent refuses too: an unsigned BackupTask and one signed with another key make no snapshot and send nothing', async () => {
    const backupOf = (): Task =>
      backupTask('lab', { vmUuid: web.uuid, backupId: `20990101T000000Z-${randomUUID().slice(0, 8)}`, remoteId: 'nas', storageAddress: stack.remotes.get('nas')!.address, baseSnapshotVdiByDisk: {}, policyJson: '{}' });
    const hostSubject = thief.names.hostTasks('lab');
    const snapshots = async () => (await stack.pools.get('lab')!.admin.state()).vms.filter((v) => v.isSnapshot).map((v) => v.uuid).sort();
    const before_ = await snapshots();
    const unsigned = backupOf();
    await refused(() => jetstream(thief.nc).publish(hostSubject, encoded(unsigned), { msgID: randomUUID() }).then(() => undefined), unsigned.taskId, /is not signed/, 'host');
    const forged = backupOf();
    const data = encoded(forged);
    const impostor = signerFromPem(generateSigningKeyPair().privatePem, 'impostor');
    await refused(() => publishSignedTask(thief.nc, hostSubject, data, signTask(impostor, data), randomUUID()), forged.taskId, /signature is not the coordinator's/, 'host');
    assert.deepEqual(await snapshots(), before_, 'no snapshot was taken on the pool');
  });

  it('a replayed task (the same signed message again) is refused; the first ran once', async () => {
    // A captured verify task: harmless the first time, and it shows whether it ran (one result).
    const task = storageTask('nas', { $case: 'verify', value: { vmUuid: web.uuid, backupId } });
    const data = encoded(task);
    const signature = signTask(coordinatorKey, data);
    await publishSignedTask(thief.nc, subject(), data, signature, randomUUID());
    for (let i = 0; !storageLogs().some((l) => l.taskId === task.taskId && /^task (succeeded|failed)$/.test(String(l.msg))); i++) {
      assert.ok(i < 200, 'the first delivery ran');
      await new Promise((r) => setTimeout(r, 100));
    }
    await refused(() => publishSignedTask(thief.nc, subject(), data, signature, randomUUID()), task.taskId, /already arrived as message \d+; this is message \d+, a replay/);
  });
});
