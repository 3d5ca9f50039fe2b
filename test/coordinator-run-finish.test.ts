// A run finishes only after the retention its backups trigger is queued — never "succeeded" and
// then running again when a merge appears. On a real catalogue, with the coordinator's own
// dispatcher (tasks published to a list) and event handler, through both the one-event path
// (`handle`) and the batched one (`handleBatch`). Every state a run takes is written to a log by a
// trigger (this test's own), so a window anywhere inside the handling — committed and then
// overwritten before the handler returned — is seen, not only the state after each call. After
// each call the test also checks that a finished run has no retention action left to queue.
// Last, a success reported after its run finished (a task given up, then done by a late attempt)
// queues its merge outside the run instead of reopening it.
import { addresseeOf } from './support/event-senders.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as catalogue from '../coordinator/catalogue/index.js';
import type { AgentEvent } from '../coordinator/events/agent-event.js';
import { Dispatcher } from '../coordinator/dispatch/dispatcher.js';
import { EventHandler } from '../coordinator/events/event-handler.js';
import type { BackupPayload, MergePayload } from '../coordinator/tasks/index.js';
import { DEFAULT_TASK_LIMITS, TERMINAL_RUN_STATES, type RunState } from '../coordinator/lifecycle/index.js';
import { nextRetentionAction, planRetention } from '../coordinator/planner/index.js';
import { parsePolicySettings, type Policy } from '../coordinator/policy/index.js';
import { recordRun } from '../coordinator/scheduler/index.js';
import { randomIds } from '../coordinator/tasks/index.js';
import { createLogger } from '../shared/logging/index.js';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';

const logger = createLogger({ level: 'silent' });
const VMS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];

describe('a run finishes after the retention it triggers is queued', { timeout: 30_000 }, () => {
  let db: TestDatabase;
  let policy: Policy;
  let handler: EventHandler;
  let dispatcher: Dispatcher;
  const sent: catalogue.TaskRecord[] = [];
  const footers = new Map<string, string>();
  let night = 0;

  before(async () => {
    db = await createTestDatabase();
    await catalogue.addRemote(db.sql, { name: 'nas', address: '127.0.0.1:1' });
    await catalogue.addPool(db.sql, { name: 'p1' });
    for (const uuid of VMS) await catalogue.upsertVm(db.sql, { uuid, poolName: 'p1', nameLabel: uuid.slice(0, 4), tags: ['prod'], powerState: 'Running', lastSeenAt: new Date() });
    policy = await catalogue.insertPolicy(db.sql, randomUUID(), parsePolicySettings({ name: 'nightly', selection: { tags: ['prod'] }, remotes: ['nas'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' }, retention: 1, concurrency: 10 }), new Date());
    await db.sql.unsafe(`
      create table run_state_log (seq bigserial primary key, run_id uuid not null, state text not null);
      create function log_run_state() returns trigger language plpgsql as $$
        begin
          if tg_op = 'INSERT' or new.state is distinct from old.state then insert into run_state_log (run_id, state) values (new.id, new.state); end if;
          return new;
        end $$;
      create trigger runs_state_logged after insert or update on runs for each row execute function log_run_state();`);
    dispatcher = new Dispatcher({ sql: db.sql, publisher: { publish: async (task) => void sent.push(task) }, clock: () => new Date(), retryDelay: () => 60_000, logger });
    handler = new EventHandler({ sql: db.sql, clock: () => new Date(), ids: randomIds, limits: DEFAULT_TASK_LIMITS, retryDelay: () => 60_000, lookup: { findBackup: async () => undefined }, logger });
  });
  after(() => db?.drop());

  const base = (t: catalogue.TaskRecord) => ({ eventId: randomUUID(), sender: addresseeOf(t), at: new Date(), taskId: t.id });
  const started = (t: catalogue.TaskRecord): AgentEvent => ({ ...base(t), type: 'started', attempt: t.attempt });
  const failed = (t: catalogue.TaskRecord): AgentEvent => ({ ...base(t), type: 'result', ok: false, durationMs: 1, attempt: t.attempt, error: { code: 'SNAPSHOT_FAILED', message: 'the pool said no', retryable: false } });

  function backupResult(t: catalogue.TaskRecord): AgentEvent {
    const payload = t.payload as unknown as BackupPayload;
    const footerUuid = randomUUID();
    const parentFooterUuid = payload.plan?.xvda?.mode === 'delta' ? footers.get(t.vmUuid!)! : null;
    footers.set(t.vmUuid!, footerUuid);
    const disk = { diskKey: 'xvda', file: `vms/${t.vmUuid}/disks/xvda/${payload.backupId}.vhd`, sizeBytes: 1024, virtualSize: 4096, footerUuid, parentFooterUuid, checksum: '00' };
    const backup = { id: payload.backupId, vmUuid: t.vmUuid!, remote: 'nas', takenAt: new Date(), metadataPath: `vms/${t.vmUuid}/backups/${payload.backupId}.json`, disks: [disk] };
    return { ...base(t), type: 'result', ok: true, durationMs: 1, attempt: t.attempt, output: { kind: 'backup', backupId: payload.backupId, snapshotUuid: randomUUID(), bytesSent: 1024, backup } };
  }

  function mergeResult(t: catalogue.TaskRecord): AgentEvent {
    const retires = (t.payload as unknown as MergePayload).retires;
    return { ...base(t), type: 'result', ok: true, durationMs: 1, attempt: t.attempt, output: { kind: 'merge', retiredBackupIds: retires, mergedDisks: 1, resumed: false, diskSizes: [] } };
  }

  /** Records a run of the policy and dispatches its backups; returns the run and the tasks sent. */
  async function startRun(): Promise<{ runId: string; tasks: catalogue.TaskRecord[] }> {
    night++;
    const { run } = await recordRun(db.sql, { policy, scheduledAt: new Date(Date.UTC(2024, 0, night, 2)), trigger: 'schedule' }, randomIds, DEFAULT_TASK_LIMITS, new Date());
    return { runId: run.id, tasks: await dispatchQueued() };
  }

  async function dispatchQueued(): Promise<catalogue.TaskRecord[]> {
    sent.length = 0;
    await dispatcher.runRound();
    return [...sent];
  }

  /** After a handler returned: a finished run has every task ended and no retention action left. */
  async function checkFinishedMeansDone(runId: string, when: string): Promise<void> {
    const run = await catalogue.getRun(db.sql, runId);
    if (!TERMINAL_RUN_STATES.has(run.state)) return;
    const active = await db.sql`select id from tasks where state in ('queued', 'dispatched', 'running')`;
    assert.equal(active.length, 0, `${when}: run ${run.state} with tasks still active`);
    for (const vm of VMS) {
      const action = nextRetentionAction(planRetention(await catalogue.retentionView(db.sql, vm, 'nas'), policy.retention));
      assert.equal(action, undefined, `${when}: run ${run.state} while ${vm} still needs ${JSON.stringify(action)}`);
    }
  }

  /** Every state the run took, in order; once finished it never went back to pending or running. */
  async function assertNeverReopened(runId: string): Promise<RunState[]> {
    const states = (await db.sql<{ state: RunState }[]>`select state from run_state_log where run_id = ${runId} order by seq`).map((r) => r.state);
    const firstEnd = states.findIndex((s) => TERMINAL_RUN_STATES.has(s));
    assert.ok(firstEnd >= 0, `run ${runId} finished: ${states.join(' → ')}`);
    assert.ok(states.slice(firstEnd).every((s) => TERMINAL_RUN_STATES.has(s)), `run ${runId} left its finished state: ${states.join(' → ')}`);
    return states;
  }

  it('night 1 (fulls, one event at a time): no retention to wait for', async () => {
    const { runId, tasks } = await startRun();
    for (const t of tasks) {
      for (const event of [started(t), backupResult(t)]) {
        await handler.handle(event);
        await checkFinishedMeansDone(runId, `after ${event.type} of ${t.vmUuid}`);
      }
    }
    assert.deepEqual(await assertNeverReopened(runId), ['pending', 'running', 'succeeded']);
  });

  it('night 2 (one event at a time): the run is still running when its last backup succeeds and finishes after the merges', async () => {
    const { runId, tasks } = await startRun();
    const [first, second] = tasks;
    // The first VM's merge is done before the second VM's backup result arrives: when that result
    // is applied, the merge it triggers is the only work left in the run.
    for (const event of [started(first!), backupResult(first!)]) {
      await handler.handle(event);
      await checkFinishedMeansDone(runId, `after ${event.type} of the first backup`);
    }
    for (const t of [first!, second!]) {
      if (t === second) {
        for (const event of [started(second), backupResult(second)]) {
          await handler.handle(event);
          await checkFinishedMeansDone(runId, `after ${event.type} of the second backup`);
        }
        assert.equal((await catalogue.getRun(db.sql, runId)).state, 'running', 'its merge is queued before the run is refreshed');
      }
      const [merge] = await dispatchQueued();
      assert.equal(merge?.kind, 'merge', `the merge of ${t.vmUuid} was queued in the run`);
      assert.equal(merge!.runId, runId);
      for (const event of [started(merge!), mergeResult(merge!)]) {
        await handler.handle(event);
        await checkFinishedMeansDone(runId, `after ${event.type} of the merge of ${t.vmUuid}`);
      }
    }
    assert.deepEqual(await assertNeverReopened(runId), ['pending', 'running', 'succeeded']);
  });

  it('night 3 (a batch): the run is still running after the batch of results, and finishes after the merges', async () => {
    const { runId, tasks } = await startRun();
    assert.deepEqual(await handler.handleBatch([...tasks.map(started), ...tasks.map(backupResult)]), [undefined, undefined, undefined, undefined]);
    await checkFinishedMeansDone(runId, 'after the batch of backup results');
    assert.equal((await catalogue.getRun(db.sql, runId)).state, 'running');
    const merges = await dispatchQueued();
    assert.deepEqual(merges.map((m) => [m.kind, m.runId]), [['merge', runId], ['merge', runId]]);
    await handler.handleBatch([...merges.map(started), ...merges.map(mergeResult)]);
    await checkFinishedMeansDone(runId, 'after the batch of merge results');
    assert.deepEqual(await assertNeverReopened(runId), ['pending', 'running', 'succeeded']);
  });

  it('a success after the run finished queues its merge outside the run, which stays finished', async () => {
    const { runId, tasks } = await startRun();
    const [given, done] = tasks;
    await handler.handleBatch([started(given!), failed(given!), started(done!), backupResult(done!)]);
    const [merge] = await dispatchQueued();
    await handler.handleBatch([started(merge!), mergeResult(merge!)]);
    assert.equal((await catalogue.getRun(db.sql, runId)).state, 'partial');
    // The agent's first attempt did commit after all and says so late.
    await handler.handle(backupResult(given!));
    assert.equal((await catalogue.getTask(db.sql, given!.id)).state, 'succeeded');
    const late = await db.sql<{ runId: string | null; vmUuid: string }[]>`select run_id, vm_uuid from tasks where kind = 'merge' and state = 'queued'`;
    assert.deepEqual([...late], [{ runId: null, vmUuid: given!.vmUuid }], 'its merge is queued, in no run');
    // Its outcome may change (every task succeeded in the end), its being finished does not.
    assert.deepEqual(await assertNeverReopened(runId), ['pending', 'running', 'partial', 'succeeded']);
  });
});
