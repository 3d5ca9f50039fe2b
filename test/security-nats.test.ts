// Attacks on the control plane over NATS, against the lab stack as `npm run lab` runs it: its own
// nats-server with the authorization `deltachain nats-config` generates (one nkey user per
// process), the coordinator, a real host agent of pool `lab` and storage agent of remote `nas`.
// The attacker holds a stolen agent seed. Each test is one attack: it shows the refusal (the
// server's permission violation, or the coordinator ignoring the event) and that nothing changed
// — on the remote, in the catalogue, in the queues. Pool `other` is registered without an agent:
// its backup task waits in its queue, a target for the attacks on tasks of another pool.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import postgres from 'postgres';
import type { LabStack } from '../lab/story/index.js';
import { runPolicyAndWait } from '../lab/story/index.js';
import { publishEvent, publishTask, type EventBody, type EventSender } from '../shared/nats/index.js';
import { AgentRole, TaskStatus } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { BackupResult } from '../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { startE2eStack, type E2eStack } from './support/e2e-stack.js';
import { findVm, policySettings, type E2eVm } from './support/e2e-backups.js';
import { connectAs, eventsApplied, type NatsUserConnection } from './support/nats-users.js';
import { storageTask } from './support/storage-nats.js';
import { remoteFileList } from './support/remote-files.js';

const MiB = 1024 * 1024;
const POOL = { name: 'lab', seed: 31, fleet: { srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 32 }], vms: [{ name: 'web', disks: [{ name: 'web root', size: 8 * MiB, fill: 40 }] }] } };
const HOST: EventSender = { role: 'host', scope: 'lab', agent: 'host-lab' };
const STORAGE: EventSender = { role: 'storage', scope: 'nas', agent: 'storage-nas' };
const GHOST_VM = '0c0ffee0-0000-4000-8000-000000000001';
const IN_2099 = Date.UTC(2099, 0, 1);
const FORGED_ADDRESS = '127.0.0.1:50999';

const violation = (subject: string) => new RegExp(`Permissions Violation for (Publish|Subscription) to "${subject.replace(/[.$*>]/g, (c) => `\\${c}`)}"`);

describe('security: NATS', { timeout: 300_000 }, () => {
  let e2e: E2eStack;
  let stack: LabStack;
  let sql: postgres.Sql;
  let coordinator: NatsUserConnection;
  let host: NatsUserConnection;
  let storage: NatsUserConnection;
  let web: E2eVm;
  let ghostTask = '';

  /** Every file on remote nas with its size and modification time. */
  const remoteFiles = (): Promise<string[]> => remoteFileList(stack.remotes.get('nas')!.root);

  /** What an attack must not change: backups, tasks, remotes, VMs and agents (minus the times live agents move). */
  async function catalogue(): Promise<unknown> {
    return {
      backups: await sql`select id, remote_name, status from backups order by 1`,
      tasks: await sql`select id, kind, state, attempt, started_at, error_code from tasks order by created_at, id`,
      remotes: await sql`select name, address from remotes order by 1`,
      vms: await sql`select uuid, pool_name, name_label, gone_at from vms order by 1`,
      agents: await sql`select id, role, pool_name, remote_name, address, version from agents order by 1`,
      future: await sql`select 'agent ' || id as row from agents where last_heartbeat_at > now() + interval '1 day'
                        union all select 'vm ' || uuid from vms where last_seen_at > now() + interval '1 day'`,
    };
  }

  // The coordinator's log lines reach this process through a pipe, possibly after the event's ack:
  // wait (up to 10 s) for `atLeast` lines with `msg` since `since` that `match`.
  const coordinatorSaid = async (msg: string, since: number, match: (err: string) => boolean = () => true, atLeast = 1) => {
    const lines = () => stack.coordinator.logs.filter((l) => l.msg === msg && Number(l.time) >= since && match(String((l.err as { message?: string })?.message)));
    for (const deadline = Date.now() + 10_000; lines().length < atLeast && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    return lines();
  };

  before(async () => {
    e2e = await startE2eStack({ pools: [POOL], remotes: ['nas'] });
    stack = e2e.stack;
    sql = postgres(e2e.databaseUrl, { max: 1, onnotice: () => {} });
    web = await findVm(stack, 'lab', 'web');
    await stack.control.createPolicy({ settings: policySettings('nightly', [web], ['nas'], { retention: 3, fullInterval: 0 }) });
    const night = await runPolicyAndWait(stack.control, 'nightly');
    assert.equal(night.run!.state, 'succeeded', JSON.stringify(night.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    // Pool `other`, registered with a VM and no agent: its backup waits in its queue.
    await stack.control.addPool({ name: 'other', site: '', description: '' });
    await sql`insert into vms (uuid, pool_name, name_label, tags, power_state, last_seen_at) values (${GHOST_VM}, 'other', 'ghost', '{}', 'Running', now())`;
    await stack.control.createPolicy({ settings: { ...policySettings('others', [], ['nas'], { retention: 3, fullInterval: 0 }), selection: { vmUuids: [], tags: [], pools: ['other'] } } });
    const { run } = await stack.control.runPolicy({ name: 'others', forceFull: false, vmUuids: [] });
    ghostTask = await (async () => {
      for (let i = 0; i < 100; i++) {
        const task = (await stack.control.getRun({ id: run!.run!.id })).run!.tasks.find((t) => t.kind === 'backup' && t.state === 'dispatched');
        if (task) return task.id;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the backup of pool other was not dispatched');
    })();
    // Both agents in the catalogue before any attack (their first heartbeat may precede the streams).
    for (let i = 0; (await stack.control.listAgents()).agents.length < 2; i++) {
      assert.ok(i < 150, 'the host and storage agents announced themselves');
      await new Promise((r) => setTimeout(r, 200));
    }
    coordinator = await connectAs(stack, 'coordinator');
    host = await connectAs(stack, HOST);
    storage = await connectAs(stack, STORAGE);
  });
  after(async () => {
    await Promise.all([coordinator, host, storage].map((c) => c?.close()));
    await sql?.end({ timeout: 5 });
    await e2e?.close();
  });

  it('a task published by an agent is refused by the server: no DeleteTask reaches the storage agent', async () => {
    const [backup] = (await stack.control.listBackups({ vmUuid: web.uuid, remote: 'nas', all: false })).backups;
    const files = await remoteFiles();
    const before = await catalogue();
    const subject = host.names.storageTasks('nas');
    for (const attacker of [host, storage]) {
      const forged = storageTask('nas', { $case: 'delete', value: { vmUuid: web.uuid, backupId: backup!.id } });
      await assert.rejects(publishTask(attacker.nc, subject, forged), violation(subject));
    }
    const jsm = await jetstreamManager(coordinator.nc);
    const queue = await jsm.consumers.info(coordinator.names.tasksStream, coordinator.names.storageConsumer('nas'));
    assert.equal(queue.num_pending + queue.num_ack_pending, 0, 'nothing reached the storage agent\'s queue');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await remoteFiles(), files, 'the backup is still on the remote');
    assert.deepEqual(await catalogue(), before);
  });

  it('a forged heartbeat ("nas is at 127.0.0.1:50999", dated 2099, from the host agent) changes nothing in the catalogue', async () => {
    const before = await catalogue();
    const since = Date.now();
    const claim: EventBody = { $case: 'heartbeat', value: { role: AgentRole.AGENT_ROLE_STORAGE, targetId: 'nas', runningTasks: 0, concurrency: 1, version: 'forged', startedAtMs: IN_2099, address: FORGED_ADDRESS } };
    await publishEvent(host.nc, host.names, HOST, '', claim, IN_2099); // its own subject: stored, then refused by the coordinator
    const theirs = host.names.event(STORAGE, 'heartbeat');
    await assert.rejects(publishEvent(host.nc, host.names, STORAGE, '', claim, IN_2099), violation(theirs));
    await eventsApplied(coordinator);
    assert.ok((await coordinatorSaid('event refused (malformed, or not its sender\'s to send) and dropped', since, (err) => /claims role/.test(err))).length > 0);
    assert.deepEqual(await catalogue(), before);
    assert.equal((await stack.control.listRemotes()).remotes.find((r) => r.name === 'nas')!.address, stack.remotes.get('nas')!.address);
  });

  it('the storage agent\'s own stolen seed cannot send backups elsewhere: its heartbeat\'s address is shown, flagged, never used', async () => {
    const registered = stack.remotes.get('nas')!.address;
    const claim: EventBody = { $case: 'heartbeat', value: { role: AgentRole.AGENT_ROLE_STORAGE, targetId: 'nas', runningTasks: 0, concurrency: 1, version: 'forged', startedAtMs: 0, address: FORGED_ADDRESS } };
    await publishEvent(storage.nc, storage.names, STORAGE, '', claim, IN_2099);
    await eventsApplied(coordinator);
    const agent = (await stack.control.listAgents()).agents.find((a) => a.id === 'storage-nas')!;
    assert.ok(agent.lastHeartbeatAtMs < Date.now() + 60_000, 'dated by JetStream, not 2099');
    if (agent.address === FORGED_ADDRESS) assert.equal(agent.addressMismatch, true, 'the claimed address is flagged');
    assert.equal(agent.registeredAddress, registered);
    const run = await runPolicyAndWait(stack.control, 'nightly');
    assert.equal(run.run!.state, 'succeeded', JSON.stringify(run.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    const task = run.tasks.find((t) => t.kind === 'backup')!;
    assert.equal(JSON.parse(task.payloadJson).storageAddress, registered, 'the task carried the registered address');
    const backupId = JSON.parse(task.payloadJson).backupId as string;
    assert.ok((await remoteFiles()).some((f) => f.includes(backupId)), 'the backup landed on nas');
    // The agent's own next heartbeat puts back what it says of itself; the tests after this one
    // compare the catalogue before and after an attack, and a heartbeat in between would differ.
    const deadline = Date.now() + 30_000;
    while ((await stack.control.listAgents()).agents.find((a) => a.id === 'storage-nas')!.version === 'forged') {
      assert.ok(Date.now() < deadline, "the storage agent's own heartbeat did not come within 30 s");
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('a forged inventory (another pool\'s, dated 2099) changes nothing in the catalogue', async () => {
    const before = await catalogue();
    const since = Date.now();
    const empty: EventBody = { $case: 'inventory', value: { poolName: 'other', poolUuid: '', vms: [] } };
    await publishEvent(host.nc, host.names, HOST, '', empty, IN_2099);
    const theirs = { role: 'host', scope: 'other', agent: 'host-other' } as const;
    await assert.rejects(publishEvent(host.nc, host.names, theirs, '', empty, IN_2099), violation(host.names.event(theirs, 'inventory')));
    await eventsApplied(coordinator);
    assert.ok((await coordinatorSaid('event refused (malformed, or not its sender\'s to send) and dropped', since, (err) => /names pool "other", not its own/.test(err))).length > 0);
    assert.deepEqual(await catalogue(), before);
    assert.deepEqual((await stack.control.listVms({ pool: 'other' })).vms.map((v) => v.uuid), [GHOST_VM], '`vm list` still shows pool other\'s VM');
  });

  it('an inventory of its own pool that claims another pool\'s VM leaves that VM where it is', async () => {
    const before = await catalogue();
    const since = Date.now();
    const own = await sql<{ uuid: string; nameLabel: string; tags: string[]; powerState: string; disks: { vdiUuid: string; virtualSize: number }[] }[]>`
      select uuid::text, name_label as "nameLabel", tags, power_state as "powerState", disks from vms where pool_name = 'lab' and gone_at is null`;
    const claim: EventBody = { $case: 'inventory', value: { poolName: 'lab', poolUuid: '', vms: [...own, { uuid: GHOST_VM, nameLabel: 'mine now', tags: [], powerState: 'Running', disks: [] }] } };
    await publishEvent(host.nc, host.names, HOST, '', claim, IN_2099);
    await eventsApplied(coordinator);
    assert.ok((await coordinatorSaid('inventory lists VMs another pool still has; left in their pool', since)).length > 0);
    assert.deepEqual(await catalogue(), before);
  });

  it('an inventory of its own pool dated 2099 is not believed: the pool\'s next report brings its VMs back', async () => {
    const empty: EventBody = { $case: 'inventory', value: { poolName: 'lab', poolUuid: '', vms: [] } };
    await publishEvent(host.nc, host.names, HOST, '', empty, IN_2099);
    await eventsApplied(coordinator);
    assert.equal(((await catalogue()) as { future: unknown[] }).future.length, 0, 'nothing dated 2099');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const vms = (await stack.control.listVms({ pool: 'lab' })).vms;
      if (vms.some((v) => v.uuid === web.uuid)) break;
      assert.ok(Date.now() < deadline, 'the host agent\'s next report did not bring web back');
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  it('events about a task addressed to another pool are ignored', async () => {
    const before = await catalogue();
    const since = Date.now();
    const value = BackupResult.create({ backupId: 'forged', snapshotUuid: randomUUID(), bytesSent: 1 });
    for (const attacker of [{ c: host, as: HOST }, { c: storage, as: STORAGE }]) {
      await publishEvent(attacker.c.nc, attacker.c.names, attacker.as, ghostTask, { $case: 'started', value: { attempt: 1, delivery: 1 } });
      await publishEvent(attacker.c.nc, attacker.c.names, attacker.as, ghostTask, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_SUCCEEDED, durationMs: 1, attempt: 1, output: { $case: 'backup', value } } });
    }
    await eventsApplied(coordinator);
    assert.equal((await coordinatorSaid('event about a task addressed to another pool or remote ignored', since, () => true, 4)).length, 4);
    assert.deepEqual(await catalogue(), before);
    assert.equal((await stack.control.getTask({ id: ghostTask })).task!.state, 'dispatched');
  });

  it('an agent can neither create nor delete streams or consumers', async () => {
    const admin = await jetstreamManager(coordinator.nc);
    const { tasksStream, eventsStream } = coordinator.names;
    const shape = async () => ({
      streams: await Promise.all([tasksStream, eventsStream].map(async (name) => {
        const info = await admin.streams.info(name);
        return [name, info.config.subjects, info.state.consumer_count, info.state.first_seq];
      })),
      consumers: (await admin.consumers.list(tasksStream).next()).map((c) => [c.name, c.config.filter_subject]).sort(),
    });
    const before = await shape();
    const jsm = await jetstreamManager(host.nc, { checkAPI: false });
    const tries: [Promise<unknown>, RegExp][] = [
      [jsm.streams.delete(tasksStream), violation(`$JS.API.STREAM.DELETE.${tasksStream}`)],
      [jsm.streams.purge(eventsStream), violation(`$JS.API.STREAM.PURGE.${eventsStream}`)],
      [jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'] }), violation('$JS.API.STREAM.CREATE.EVIL')],
      [jsm.consumers.add(tasksStream, { durable_name: 'thief', filter_subject: host.names.hostTasks('other') }), /Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.(DURABLE\.)?CREATE\./],
      [jsm.consumers.delete(tasksStream, 'host-lab'), violation(`$JS.API.CONSUMER.DELETE.${tasksStream}.host-lab`)],
    ];
    for (const [attempt, refused] of tries) await assert.rejects(attempt, refused);
    assert.deepEqual(await shape(), before);
  });

  it('an agent cannot read another pool\'s tasks', async () => {
    const admin = await jetstreamManager(coordinator.nc);
    const { tasksStream } = coordinator.names;
    const queue = async () => {
      const info = await admin.consumers.info(tasksStream, 'host-other');
      return { pending: info.num_pending, delivered: info.delivered.stream_seq };
    };
    const before = await queue();
    assert.equal(before.pending, 1, 'pool other\'s backup waits in its queue');
    await assert.rejects(jetstream(host.nc).consumers.get(tasksStream, 'host-other'), violation(`$JS.API.CONSUMER.INFO.${tasksStream}.host-other`));
    const next = `$JS.API.CONSUMER.MSG.NEXT.${tasksStream}.host-other`;
    await assert.rejects(host.nc.request(next, JSON.stringify({ batch: 1, expires: 1_000_000_000 }), { timeout: 3000 }), violation(next));
    const direct = `$JS.API.DIRECT.GET.${tasksStream}`;
    await assert.rejects(host.nc.request(direct, JSON.stringify({ last_by_subj: host.names.hostTasks('other') }), { timeout: 3000 }), violation(direct));
    const tasks = host.nc.subscribe(host.names.allTasks);
    await host.nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(host.refusals.some((e) => violation(host.names.allTasks).test(e)), host.refusals.join('\n'));
    assert.equal(tasks.getProcessed(), 0);
    assert.deepEqual(await queue(), before, 'nothing was taken from the queue');
    assert.equal((await stack.control.getTask({ id: ghostTask })).task!.state, 'dispatched');
  });

  it('an agent can publish neither as another agent nor read others\' replies', async () => {
    const before = await catalogue();
    const twin = { role: 'host', scope: 'lab', agent: 'host-lab-2' } as const;
    const beat: EventBody = { $case: 'heartbeat', value: { role: AgentRole.AGENT_ROLE_HOST, targetId: 'lab', runningTasks: 0, concurrency: 1, version: 'forged', startedAtMs: 0, address: '' } };
    await assert.rejects(publishEvent(host.nc, host.names, twin, '', beat), violation(host.names.event(twin, 'heartbeat')));
    const result = host.names.event(STORAGE, 'result');
    await assert.rejects(publishEvent(host.nc, host.names, STORAGE, ghostTask, { $case: 'result', value: { status: TaskStatus.TASK_STATUS_FAILED, durationMs: 1, error: { code: 'X', message: 'forged', retryable: false, side: '' } } }), violation(result));
    for (const inbox of [`${host.names.coordinatorInbox}.>`, '_INBOX.>', `${host.names.agentInbox(STORAGE)}.>`]) host.nc.subscribe(inbox);
    await host.nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    for (const inbox of [`${host.names.coordinatorInbox}.>`, '_INBOX.>', `${host.names.agentInbox(STORAGE)}.>`]) {
      assert.ok(host.refusals.some((e) => violation(inbox).test(e)), `${inbox}: ${host.refusals.join('\n')}`);
    }
    await eventsApplied(coordinator);
    assert.deepEqual(await catalogue(), before);
  });
});
