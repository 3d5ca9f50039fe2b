// Batched dispatch and batched event application (dispatcher prepareBatch, EventHandler
// handleBatch) on a real catalogue: two nights of backups of a few VMs. Night 1: fulls, a
// duplicate result and an event for an unknown task in the batch; one backup each, references
// set. Night 2: deltas planned against night 1's references, recorded on night 1's chains; one
// VM's delta names a parent the catalogue lacks, so the batch is applied again one event at a
// time: that task succeeds unrecorded with a remote scan queued, the others are recorded; and
// retention (1) queues one merge per recorded VM. Night 3 (retention tasks cancelled first):
// deltas on every chain, recorded by the batch itself (no event applied one at a time). Night 4:
// a success the remote does not confirm is handed back with its task's events, the rest applied.
import { addresseeOf } from './support/event-senders.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as catalogue from '../coordinator/catalogue/index.js';
import type { AgentEvent } from '../coordinator/events/agent-event.js';
import { Dispatcher } from '../coordinator/dispatch/dispatcher.js';
import { EventHandler } from '../coordinator/events/event-handler.js';
import { queueTask } from '../coordinator/dispatch/queue-task.js';
import type { BackupPayload } from '../coordinator/tasks/index.js';
import type { TaskPublisher } from '../coordinator/dispatch/task-publisher.js';
import { DEFAULT_TASK_LIMITS } from '../coordinator/lifecycle/index.js';
import { parsePolicySettings } from '../coordinator/policy/index.js';
import { randomIds } from '../coordinator/tasks/index.js';
import { createLogger } from '../shared/logging/index.js';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';

const logger = createLogger({ level: 'silent' });
const VMS = 5;

describe('batched dispatch and events', { timeout: 30_000 }, () => {
  let db: TestDatabase;
  let policyId: string;
  const vms = Array.from({ length: VMS }, () => randomUUID());
  const sent: catalogue.TaskRecord[] = [];
  const publisher: TaskPublisher = { publish: async (task) => void sent.push(task) };
  let dispatcher: Dispatcher;
  let handler: EventHandler;
  const footers = new Map<string, string>();

  before(async () => {
    db = await createTestDatabase();
    await catalogue.addRemote(db.sql, { name: 'nas', address: '127.0.0.1:1' });
    await catalogue.addPool(db.sql, { name: 'p1' });
    policyId = randomUUID();
    await catalogue.insertPolicy(db.sql, policyId, parsePolicySettings({ name: 'nightly', selection: { tags: ['prod'] }, remotes: ['nas'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' }, retention: 1, concurrency: 10 }), new Date());
    dispatcher = new Dispatcher({ sql: db.sql, publisher, clock: () => new Date(), retryDelay: () => 100, logger });
    handler = new EventHandler({ sql: db.sql, clock: () => new Date(), ids: randomIds, limits: DEFAULT_TASK_LIMITS, retryDelay: () => 100, lookup: { findBackup: async () => undefined }, logger });
  });
  after(async () => {
    await db?.drop();
  });

  async function night(): Promise<catalogue.TaskRecord[]> {
    sent.length = 0;
    for (const [i, vm] of vms.entries()) {
      const payload: BackupPayload = { policyId, policyName: 'nightly', retention: 1, backupId: randomUUID(), vmName: `vm-${i}`, forceFull: false };
      await queueTask(db.sql, { id: randomUUID(), kind: 'backup', addressKind: 'pool', address: 'p1', remoteName: 'nas', vmUuid: vm, payload }, DEFAULT_TASK_LIMITS, new Date());
    }
    assert.equal(await dispatcher.runRound(), VMS);
    return [...sent];
  }

  const result = (task: catalogue.TaskRecord, parentFooter: string | null): AgentEvent => {
    const payload = task.payload as unknown as BackupPayload;
    const footerUuid = randomUUID();
    if (parentFooter === null || footers.has(task.vmUuid!)) footers.set(task.vmUuid!, footerUuid);
    const disk = { diskKey: 'xvda', file: `vms/${task.vmUuid}/${payload.backupId}/xvda.vhd`, sizeBytes: 1024, virtualSize: 4096, footerUuid, parentFooterUuid: parentFooter, checksum: '00' };
    const backup = { id: payload.backupId, vmUuid: task.vmUuid!, remote: 'nas', takenAt: new Date(), metadataPath: `vms/${task.vmUuid}/${payload.backupId}/backup.json`, disks: [disk] };
    return { type: 'result', eventId: randomUUID(), sender: addresseeOf(task, 'host-p1'), at: new Date(), taskId: task.id, ok: true, durationMs: 1, attempt: task.attempt, output: { kind: 'backup', backupId: payload.backupId, snapshotUuid: randomUUID(), bytesSent: 1024, backup } };
  };
  const started = (task: catalogue.TaskRecord, taskId = task.id): AgentEvent => ({ type: 'started', eventId: randomUUID(), sender: addresseeOf(task, 'host-p1'), at: new Date(), taskId, attempt: task.attempt });

  it('night 1: fulls recorded once each, a duplicate and an unknown task harmless', async () => {
    const tasks = await night();
    assert.ok(tasks.every((t) => Object.values((t.payload as unknown as BackupPayload).plan!).every((d) => d.mode === 'full')));
    const results = tasks.map((t) => result(t, null));
    const unknown = started(tasks[0]!, randomUUID());
    const failures = await handler.handleBatch([...tasks.map((t) => started(t)), ...results, results[0]!, unknown]);
    assert.deepEqual(failures, failures.map(() => undefined));
    const [row] = await db.sql<{ backups: number; refs: number; succeeded: number }[]>`
      select (select count(*)::int from backups) as backups, (select count(*)::int from reference_snapshots) as refs,
             (select count(*)::int from tasks where state = 'succeeded') as succeeded`;
    assert.deepEqual(row, { backups: VMS, refs: VMS, succeeded: VMS });
  });

  it('night 2: deltas on the chains; a lacking parent falls back to one at a time; retention queues merges', async () => {
    const tasks = await night();
    assert.equal(tasks.length, VMS);
    for (const task of tasks) {
      const plan = (task.payload as unknown as BackupPayload).plan!;
      assert.equal(plan.xvda?.mode, 'delta', `VM ${task.vmUuid} planned ${JSON.stringify(plan)}`);
      assert.equal(plan.xvda?.baseVdiUuid, footers.get(task.vmUuid!));
    }
    const [lost, ...rest] = tasks;
    const events = [...tasks.map((t) => started(t)), result(lost!, randomUUID()), ...rest.map((t) => result(t, footers.get(t.vmUuid!)!))];
    const failures = await handler.handleBatch(events);
    assert.deepEqual(failures, failures.map(() => undefined));
    const states = await db.sql<{ state: string; recorded: boolean | null }[]>`
      select state, (result->>'recorded')::boolean as recorded from tasks where id = any(${tasks.map((t) => t.id)}::uuid[]) order by id = ${lost!.id} desc`;
    assert.ok(states.every((s) => s.state === 'succeeded'));
    assert.equal(states[0]!.recorded, false);
    const positions = await db.sql<{ vmUuid: string; position: number }[]>`
      select b.vm_uuid, d.position from disks d join backups b on b.key = d.backup_key where d.kind = 'delta' order by b.vm_uuid`;
    assert.deepEqual(positions.map((p) => p.vmUuid).sort(), rest.map((t) => t.vmUuid!).sort());
    assert.ok(positions.every((p) => p.position === 1));
    const queued = await db.sql<{ kind: string; vmUuid: string | null }[]>`select kind, vm_uuid from tasks where kind in ('merge', 'scan') order by kind`;
    assert.deepEqual(queued.filter((t) => t.kind === 'merge').map((t) => t.vmUuid).sort(), rest.map((t) => t.vmUuid!).sort());
    assert.equal(queued.filter((t) => t.kind === 'scan').length, 1);
  });

  it('night 3: deltas recorded in one batch, on every chain', async () => {
    await db.sql`update tasks set state = 'cancelled', finished_at = now() where kind in ('merge', 'scan')`;
    const tasks = await night();
    assert.equal(tasks.length, VMS);
    let oneByOne = 0;
    const single = handler.handle.bind(handler);
    handler.handle = async (event) => {
      oneByOne++;
      return single(event);
    };
    const parentOf = (t: catalogue.TaskRecord) => (t.payload as unknown as BackupPayload).plan!.xvda!.baseVdiUuid!;
    const failures = await handler.handleBatch([...tasks.map((t) => started(t)), ...tasks.map((t) => result(t, parentOf(t)))]);
    assert.deepEqual(failures, failures.map(() => undefined));
    assert.equal(oneByOne, 0);
    const tails = await db.sql<{ vmUuid: string; position: number }[]>`
      select b.vm_uuid, max(d.position)::int as position from disks d join backups b on b.key = d.backup_key group by b.vm_uuid`;
    const expected = new Map<string, number>();
    const lostVm = (await db.sql<{ vmUuid: string }[]>`select vm_uuid from tasks where result->>'recorded' = 'false'`)[0]!.vmUuid;
    for (const vm of vms) expected.set(vm, vm === lostVm ? 1 : 2);
    assert.deepEqual(new Map(tails.map((t) => [t.vmUuid, t.position])), expected);
    const [refs] = await db.sql<{ n: number }[]>`select count(*)::int as n from reference_snapshots r join backups b on b.vm_uuid = r.vm_uuid and b.task_id = any(${tasks.map((t) => t.id)}::uuid[]) and r.vdis->>'xvda' = (select footer_uuid::text from disks where backup_key = b.key)`;
    assert.equal(refs!.n, VMS);
  });

  it('night 4: an unconfirmed success is handed back, the rest of the batch applied', async () => {
    await db.sql`update tasks set state = 'cancelled', finished_at = now() where state in ('queued', 'dispatched', 'running')`;
    const tasks = await night();
    const parentOf = (t: catalogue.TaskRecord) => (t.payload as unknown as BackupPayload).plan!.xvda!.baseVdiUuid!;
    const results = tasks.map((t) => result(t, parentOf(t)));
    const first = results[0]!;
    if (first.type === 'result' && first.ok && first.output?.kind === 'backup') delete first.output.backup;
    const failures = await handler.handleBatch([...tasks.map((t) => started(t)), ...results]);
    assert.deepEqual(failures.map((f) => (f as { code?: string } | undefined)?.code), [
      'BACKUP_NOT_FOUND', ...tasks.slice(1).map(() => undefined), 'BACKUP_NOT_FOUND', ...tasks.slice(1).map(() => undefined),
    ]);
    const states = await db.sql<{ id: string; state: string }[]>`select id, state from tasks where id = any(${tasks.map((t) => t.id)}::uuid[])`;
    for (const { id, state } of states) assert.equal(state, id === tasks[0]!.id ? 'dispatched' : 'succeeded');
  });
});
