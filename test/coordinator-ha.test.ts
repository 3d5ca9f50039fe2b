// Two coordinators on one catalogue, as processes (`deltachain coordinator`), with real storage
// agents, NATS and Postgres and the stand-in host agent: one is active, the other a standby that
// still serves the control API. The active one is SIGKILLed in the middle of a run: the standby
// takes over within 30 s (the default lease of 15 s), the run finishes with one backup per task
// and each task run once. Then the attack: a task signed with the coordinators' key but carrying
// the dead coordinator's term (its late publish) is refused by a storage agent that has taken a
// task of the new term, and the backup it would have deleted is still there.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { ChannelCredentials } from '@grpc/grpc-js';
import * as catalogue from '../coordinator/catalogue/index.js';
import { ControlClient } from '../coordinator/api/control-client.js';
import type * as wire from '../shared/proto/gen/deltachain/control/v1/control.js';
import { Task, TaskKind } from '../shared/proto/gen/deltachain/tasks/v1/task.js';
import { signTask, TASK_SIGNATURE_HEADER } from '../shared/task-trust/index.js';
import { readSigner } from '../shared/signing/index.js';
import { StorageClient } from '../shared/grpc/storage-client.js';
import { spawnCoordinator, startCoordinatorStack, type CoordinatorProcess, type CoordinatorStack } from './support/pg-coordinator-stack.js';
import { httpGet, sample, waitFor } from './support/deploy-processes.js';

const VM = '6a7b8c9d-1e2f-4a3b-8c4d-5e6f7a8b9c0d';

describe('two coordinators: one active, a standby that takes over', { timeout: 240_000 }, () => {
  let stack: CoordinatorStack;
  const coordinators = new Map<string, { process: CoordinatorProcess; client: ControlClient }>();

  async function start(name: string): Promise<{ process: CoordinatorProcess; client: ControlClient }> {
    const socket = join(stack.folder, `${name}.sock`);
    const config = { ...stack.coordinatorConfig(stack.db.url, socket), leadership: { leaseSeconds: 15, name }, metrics: { listen: '127.0.0.1:0' } };
    const path = join(stack.folder, `${name}.json`);
    await writeFile(path, JSON.stringify(config, null, 2));
    const process = await spawnCoordinator(path);
    const entry = { process, client: new ControlClient(`unix:${socket}`, ChannelCredentials.createInsecure()) };
    coordinators.set(name, entry);
    return entry;
  }

  /** What /metrics says of this coordinator's part, and /healthz's leadership line. */
  async function role(name: string): Promise<{ active: number | undefined; health: string }> {
    const address = String(coordinators.get(name)!.process.logs.find((l) => l.msg === 'coordinator started')!.observability);
    const health = JSON.parse((await httpGet(address, '/healthz')).body) as { components: Record<string, { detail?: string }> };
    return { active: sample((await httpGet(address, '/metrics')).body, 'deltachain_coordinator_active'), health: String(health.components.leadership?.detail) };
  }

  const activeLine = (p: CoordinatorProcess) => p.logs.find((l) => l.msg === 'this coordinator is now the active one');

  async function finished(client: ControlClient, runId: string): Promise<wire.RunDetail> {
    return waitFor(`run ${runId} to finish`, async () => {
      const { run } = await client.getRun({ id: runId });
      return run!.run!.finishedAtMs > 0 && run!.tasks.every((t) => ['succeeded', 'failed', 'cancelled'].includes(t.state)) ? run : undefined;
    }, 90_000);
  }

  before(async () => {
    stack = await startCoordinatorStack('lab');
    await Promise.all([stack.startStorage('nas'), stack.startStorage('offsite')]);
  });
  after(async () => {
    for (const { process, client } of coordinators.values()) {
      client.close();
      await process.kill('SIGKILL');
    }
    await stack?.close();
  });

  it('the first is active, the second a standby whose control API works; a run goes through', async () => {
    const a = await start('alpha');
    assert.ok(activeLine(a.process), 'the first coordinator took the lease');
    const b = await start('beta');
    assert.equal(activeLine(b.process), undefined);
    assert.ok(b.process.logs.some((l) => l.msg === 'standby: another coordinator is active' && String(l.activeCoordinator).startsWith('alpha:')));
    const [alpha, beta] = [await role('alpha'), await role('beta')];
    assert.equal(alpha.active, 1);
    assert.match(alpha.health, /^active \(lease term \d+\)$/);
    assert.equal(beta.active, 0);
    assert.match(beta.health, /^standby: alpha:\d+:\w+ is active/);
    // Set up through the standby: its API writes the shared catalogue; the active one acts on it.
    await b.client.addPool({ name: 'lab', site: '', description: '' });
    for (const remote of ['nas', 'offsite']) await b.client.addRemote({ name: remote, address: stack.storage.get(remote)!.address, site: '', location: '', description: '' });
    await b.client.createPolicy({ settings: { name: 'nightly', selection: { vmUuids: [VM], tags: [], pools: [] }, remotes: ['nas', 'offsite'], cron: '0 3 * * *', timeZone: 'UTC', retention: 3, fullInterval: 0, concurrency: 2, enabled: true } });
    stack.host.addVm(VM, 'web', ['xvda']);
    await catalogue.upsertVm(stack.db.sql, { uuid: VM, poolName: 'lab', nameLabel: 'web', tags: [], powerState: 'Running', lastSeenAt: new Date() });
    const { run } = await b.client.runPolicy({ name: 'nightly', forceFull: false, vmUuids: [] });
    const done = await finished(b.client, run!.run!.id);
    assert.equal(done.run!.state, 'succeeded', JSON.stringify(done.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    const lease = (await catalogue.readLease(stack.db.sql))!;
    assert.ok(lease.holder.startsWith('alpha:'));
    for (const task of done.tasks) assert.equal((await catalogue.getTask(stack.db.sql, task.id)).dispatchTerm, lease.term, 'dispatched under alpha\'s term');
  });

  it('the active one SIGKILLed mid-run: the standby takes over within 30 s and finishes the run, no duplicate or missing backup', async () => {
    const a = coordinators.get('alpha')!;
    const b = coordinators.get('beta')!;
    const oldTerm = (await catalogue.readLease(stack.db.sql))!.term;
    stack.host.write(VM, 'xvda', 1);
    const release = stack.host.hold();
    const { run } = await b.client.runPolicy({ name: 'nightly', forceFull: false, vmUuids: [] });
    const runId = run!.run!.id;
    const taskIds = run!.tasks.map((t) => t.id);
    await waitFor('both backup tasks running', async () => (await catalogue.listTasksOfRun(stack.db.sql, runId)).filter((t) => t.kind === 'backup' && t.state === 'running').length === 2);
    const killedAt = Date.now();
    await a.process.kill('SIGKILL');
    release();
    await waitFor('beta to become active', async () => activeLine(b.process), 40_000);
    const tookOverMs = Date.now() - killedAt;
    assert.ok(tookOverMs < 30_000, `took over after ${tookOverMs} ms`);
    const done = await finished(b.client, runId);
    assert.equal(done.run!.state, 'succeeded', JSON.stringify(done.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    for (const id of taskIds) {
      assert.equal((await stack.db.sql`select id from backups where task_id = ${id}`).length, 1, 'one backup per task');
      assert.equal(stack.host.deliveries.get(id), 1, 'each task ran once');
    }
    for (const remote of ['nas', 'offsite']) assert.equal((await catalogue.listBackups(stack.db.sql, { vmUuid: VM, remote })).length, 2, `${remote}: the first run's backup and this one`);
    const lease = (await catalogue.readLease(stack.db.sql))!;
    assert.ok(lease.holder.startsWith('beta:') && lease.term > oldTerm, 'beta holds the lease at a larger term');
    assert.equal((await role('beta')).active, 1);
    console.log(`# standby took over ${tookOverMs} ms after the active coordinator was killed (lease 15 s)`);
  });

  it("a task carrying the dead coordinator's term is refused by an agent that took the new term; nothing is deleted", async () => {
    const b = coordinators.get('beta')!;
    const lease = (await catalogue.readLease(stack.db.sql))!;
    // The agent of nas takes a task of the new term (a scan, through the new active coordinator).
    const { task: scan } = await b.client.scanRemote({ name: 'nas', removeGarbage: false, accept: false, graceSeconds: 3600 });
    await waitFor('the scan', async () => (await catalogue.getTask(stack.db.sql, scan!.id)).state === 'succeeded');
    assert.equal((await catalogue.getTask(stack.db.sql, scan!.id)).dispatchTerm, lease.term);
    // alpha's last words: a delete of the newest backup, validly signed, at alpha's term.
    const [victim] = (await catalogue.listBackups(stack.db.sql, { vmUuid: VM, remote: 'nas' })).slice(-1);
    const alphaTerm = (await stack.db.sql<{ t: number }[]>`select min(dispatch_term) as t from tasks`)[0]!.t;
    assert.ok(alphaTerm < lease.term);
    const now = Date.now();
    const forged: Task = {
      taskId: randomUUID(), kind: TaskKind.TASK_KIND_DELETE, target: { agent: { $case: 'remoteId', value: 'nas' } }, attempt: 1,
      createdAtMs: now, deadlineMs: 0, expiresAtMs: now + 600_000, signedAtMs: now, runId: '', leaderTerm: alphaTerm,
      payload: { $case: 'delete', value: { vmUuid: VM, backupId: victim!.id } },
    };
    const data = Task.encode(forged).finish();
    const h = headers();
    h.set(TASK_SIGNATURE_HEADER, signTask(readSigner(stack.security.signingKey), data));
    await jetstream(stack.nats.nc).publish(stack.nats.names.storageTasks('nas'), data, { msgID: `${forged.taskId}.1`, headers: h });
    const refusal = await waitFor('beta to log the refusal', async () => b.process.logs.find((l) => l.claimedTaskId === forged.taskId));
    assert.match(String(refusal.msg), /deposed|no longer the active one/);
    const storage = new StorageClient(stack.storage.get('nas')!.address, stack.security.coordinatorCredentials());
    try {
      assert.ok((await storage.listBackups(VM)).some((x) => x.backupId === victim!.id), 'the backup is still on the remote');
    } finally {
      storage.close();
    }
    assert.equal((await catalogue.listBackups(stack.db.sql, { vmUuid: VM, remote: 'nas' })).length, 2, 'and in the catalogue');
  });
});
