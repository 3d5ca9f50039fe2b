// The scheduler against a real Postgres with a clock the test moves: runs are recorded once
// per firing — also by two schedulers at once — with one backup task per VM and remote.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';
import * as catalog from '../coordinator/catalog/index.js';
import { parsePolicySettings } from '../coordinator/policy/index.js';
import { Scheduler, randomIds, recordRun } from '../coordinator/scheduler/index.js';
import { DEFAULT_TASK_LIMITS } from '../coordinator/lifecycle/index.js';
import { createLogger } from '../shared/logging/index.js';

const VMS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
const created = new Date('2024-06-01T12:00:00Z');

describe('scheduler', () => {
  let db: TestDatabase;
  let now = created;
  const scheduler = () =>
    new Scheduler({ sql: db.sql, clock: () => now, ids: randomIds, limits: DEFAULT_TASK_LIMITS, logger: createLogger({ level: 'silent' }) });

  before(async () => {
    db = await createTestDatabase();
    await catalog.addPool(db.sql, { name: 'lab' });
    await catalog.addRemote(db.sql, { name: 'nas' });
    await catalog.addRemote(db.sql, { name: 'offsite' });
    for (const [i, uuid] of VMS.entries()) {
      await catalog.upsertVm(db.sql, { uuid, poolName: 'lab', nameLabel: `vm${i}`, tags: ['prod'], powerState: 'Running', lastSeenAt: created });
    }
    const settings = (name: string, tags: string[]) =>
      parsePolicySettings({ name, selection: { tags }, remotes: ['nas', 'offsite'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' }, retention: 3 });
    await catalog.insertPolicy(db.sql, randomUUID(), settings('nightly', ['prod']), created);
    await catalog.insertPolicy(db.sql, randomUUID(), settings('empty', ['nothing-has-this']), created);
  });
  after(() => db.drop());

  it('records nothing before the first firing and tells when it is', async () => {
    now = new Date('2024-06-02T01:59:00Z');
    const next = await scheduler().tick();
    assert.equal(next?.toISOString(), '2024-06-02T02:00:00.000Z');
    assert.equal((await catalog.listRuns(db.sql)).length, 0);
  });

  it('records one run per firing even with two schedulers ticking at once', async () => {
    now = new Date('2024-06-02T02:00:01Z');
    await Promise.all([scheduler().tick(), scheduler().tick(), scheduler().tick()]);
    await scheduler().tick();
    const runs = await catalog.listRuns(db.sql, { policyName: 'nightly' });
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.scheduledAt.toISOString(), '2024-06-02T02:00:00.000Z');
  });

  it('creates one backup task per VM and remote with a backup id of the firing time', async () => {
    const [run] = await catalog.listRuns(db.sql, { policyName: 'nightly' });
    const tasks = await catalog.listTasksOfRun(db.sql, run!.id);
    assert.equal(tasks.length, 4);
    assert.deepEqual(new Set(tasks.map((t) => `${t.vmUuid}@${t.remoteName}`)).size, 4);
    for (const task of tasks) {
      assert.equal(task.state, 'queued');
      assert.equal(task.address, 'lab');
      assert.match(String(task.payload.backupId), /^20240602T020000Z-[0-9a-f]{8}$/);
    }
  });

  it('fails a run whose policy selects no VM, and says why', async () => {
    const [run] = await catalog.listRuns(db.sql, { policyName: 'empty' });
    assert.equal(run?.state, 'failed');
    assert.match(run?.error ?? '', /selected no VM/);
  });

  it('names the VMs no pool has reported', async () => {
    const policy = await catalog.insertPolicy(db.sql, randomUUID(), parsePolicySettings({
      name: 'ghost', selection: { vmUuids: ['99999999-9999-4999-8999-999999999999'] }, remotes: ['nas'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' }, retention: 3,
    }), created);
    const { run } = await recordRun(db.sql, { policy, scheduledAt: new Date('2024-06-02T02:00:00Z'), trigger: 'manual' }, randomIds, DEFAULT_TASK_LIMITS, now);
    const saved = await catalog.getRun(db.sql, run.id);
    assert.equal(saved.state, 'failed');
    assert.match(saved.error ?? '', /no pool has reported VM 99999999-9999-4999-8999-999999999999; check the uuid against `deltachain vm list`/);
    await catalog.deletePolicy(db.sql, 'ghost');
  });

  it('after an outage catches up once, with the newest missed firing', async () => {
    now = new Date('2024-06-05T09:00:00Z');
    await scheduler().tick();
    const runs = await catalog.listRuns(db.sql, { policyName: 'nightly' });
    assert.deepEqual(runs.map((r) => r.scheduledAt.toISOString()), ['2024-06-05T02:00:00.000Z', '2024-06-02T02:00:00.000Z']);
  });

  it('does not fire a disabled policy, nor catch up what was missed while disabled', async () => {
    await catalog.setPolicyEnabled(db.sql, 'nightly', false, now);
    now = new Date('2024-06-06T02:00:00Z');
    await scheduler().tick();
    now = new Date('2024-06-06T10:00:00Z');
    await catalog.setPolicyEnabled(db.sql, 'nightly', true, now);
    await scheduler().tick();
    assert.equal((await catalog.listRuns(db.sql, { policyName: 'nightly' })).length, 2);
  });

  it('runs on its own timer when started', async () => {
    await catalog.updatePolicy(db.sql, (await catalog.getPolicyByName(db.sql, 'empty')).id, parsePolicySettings({
      name: 'empty', selection: { tags: ['prod'] }, remotes: ['nas'], schedule: { cron: '* * * * * *', timeZone: 'UTC' }, retention: 1,
    }), new Date(Date.now() - 1000));
    now = new Date();
    const seen: string[] = [];
    const live = new Scheduler({
      sql: db.sql, clock: () => new Date(), ids: randomIds, limits: DEFAULT_TASK_LIMITS,
      logger: createLogger({ level: 'silent' }), onRun: (run) => { if (run.policyName === 'empty') seen.push(run.policyName); },
    });
    live.start();
    const deadline = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await live.stop();
    assert.ok(seen.length >= 2, `expected two firings of a per-second schedule, saw ${seen.length}`);
  });
});
