// The scheduler against a real Postgres with a clock the test moves: runs are recorded once
// per firing — also by two schedulers at once — with one backup task per VM and remote; a firing
// while the policy's previous run is still active is recorded as skipped, naming that run.
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';
import * as catalogue from '../coordinator/catalogue/index.js';
import { parsePolicySettings } from '../coordinator/policy/index.js';
import { Scheduler, recordRun } from '../coordinator/scheduler/index.js';
import { randomIds } from '../coordinator/tasks/index.js';
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
    await catalogue.addPool(db.sql, { name: 'lab' });
    await catalogue.addRemote(db.sql, { name: 'nas' });
    await catalogue.addRemote(db.sql, { name: 'offsite' });
    for (const [i, uuid] of VMS.entries()) {
      await catalogue.upsertVm(db.sql, { uuid, poolName: 'lab', nameLabel: `vm${i}`, tags: ['prod'], powerState: 'Running', lastSeenAt: created });
    }
    const settings = (name: string, tags: string[]) =>
      parsePolicySettings({ name, selection: { tags }, remotes: ['nas', 'offsite'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' }, retention: 3 });
    await catalogue.insertPolicy(db.sql, randomUUID(), settings('nightly', ['prod']), created);
    await catalogue.insertPolicy(db.sql, randomUUID(), settings('empty', ['nothing-has-this']), created);
  });
  after(() => db.drop());

  it('records nothing before the first firing and tells when it is', async () => {
    now = new Date('2024-06-02T01:59:00Z');
    const next = await scheduler().tick();
    assert.equal(next?.toISOString(), '2024-06-02T02:00:00.000Z');
    assert.equal((await catalogue.listRuns(db.sql)).length, 0);
  });

  it('records one run per firing even with two schedulers ticking at once', async () => {
    now = new Date('2024-06-02T02:00:01Z');
    await Promise.all([scheduler().tick(), scheduler().tick(), scheduler().tick()]);
    await scheduler().tick();
    const runs = await catalogue.listRuns(db.sql, { policyName: 'nightly' });
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.scheduledAt.toISOString(), '2024-06-02T02:00:00.000Z');
  });

  it('creates one backup task per VM and remote with a backup id of the firing time', async () => {
    const [run] = await catalogue.listRuns(db.sql, { policyName: 'nightly' });
    const tasks = await catalogue.listTasksOfRun(db.sql, run!.id);
    assert.equal(tasks.length, 4);
    assert.deepEqual(new Set(tasks.map((t) => `${t.vmUuid}@${t.remoteName}`)).size, 4);
    for (const task of tasks) {
      assert.equal(task.state, 'queued');
      assert.equal(task.address, 'lab');
      assert.ok(task.kind === 'backup');
      assert.match(String(task.payload.backupId), /^20240602T020000Z-[0-9a-f]{8}$/);
    }
  });

  it('fails a run whose policy selects no VM, and says why', async () => {
    const [run] = await catalogue.listRuns(db.sql, { policyName: 'empty' });
    assert.equal(run?.state, 'failed');
    assert.match(run?.error ?? '', /selected no VM/);
  });

  it('names the VMs no pool has reported', async () => {
    const policy = await catalogue.insertPolicy(db.sql, randomUUID(), parsePolicySettings({
      name: 'ghost', selection: { vmUuids: ['99999999-9999-4999-8999-999999999999'] }, remotes: ['nas'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' }, retention: 3,
    }), created);
    const { run } = await recordRun(db.sql, { policy, scheduledAt: new Date('2024-06-02T02:00:00Z'), trigger: 'manual' }, randomIds, DEFAULT_TASK_LIMITS, now);
    const saved = await catalogue.getRun(db.sql, run.id);
    assert.equal(saved.state, 'failed');
    assert.match(saved.error ?? '', /no pool has reported VM 99999999-9999-4999-8999-999999999999; check the uuid against `deltachain vm list`/);
    await catalogue.deletePolicy(db.sql, 'ghost');
  });

  /** What a dispatcher and agents would do to a run: its tasks end, and so does the run. */
  async function finishRunsOf(policy: string): Promise<void> {
    for (const run of await catalogue.listRuns(db.sql, { policyName: policy })) {
      await db.sql`update tasks set state = 'cancelled', finished_at = ${now} where run_id = ${run.id} and finished_at is null`;
      await catalogue.saveRunOutcome(db.sql, run.id, { state: 'cancelled', finished: true, error: 'cancelled by the test' }, now);
    }
  }

  it('after an outage catches up once, with the newest missed firing', async () => {
    await finishRunsOf('nightly');
    now = new Date('2024-06-05T09:00:00Z');
    await scheduler().tick();
    const runs = await catalogue.listRuns(db.sql, { policyName: 'nightly' });
    assert.deepEqual(runs.map((r) => r.scheduledAt.toISOString()), ['2024-06-05T02:00:00.000Z', '2024-06-02T02:00:00.000Z']);
    assert.equal(runs[0]!.state, 'pending');
  });

  it('a firing while the previous run is still active starts no second run: it is recorded as skipped, naming it, and logged', async () => {
    const [active] = await catalogue.listRuns(db.sql, { policyName: 'nightly' });
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({ write: (chunk, _e, done) => void (lines.push(JSON.parse(String(chunk))), done()) });
    const logger = createLogger({ level: 'info', pretty: false, destination });
    now = new Date('2024-06-06T02:00:01Z');
    await Promise.all([0, 1].map(() => new Scheduler({ sql: db.sql, clock: () => now, ids: randomIds, limits: DEFAULT_TASK_LIMITS, logger }).tick()));
    const [skipped, ...older] = await catalogue.listRuns(db.sql, { policyName: 'nightly' });
    assert.equal(older[0]!.id, active!.id);
    assert.equal(skipped!.scheduledAt.toISOString(), '2024-06-06T02:00:00.000Z');
    assert.equal(skipped!.state, 'skipped');
    assert.ok(skipped!.finishedAt, 'a skipped firing is finished at once');
    assert.equal(skipped!.error, `skipped: run ${active!.id} of this policy was still pending`);
    assert.equal((await catalogue.listTasksOfRun(db.sql, skipped!.id)).length, 0, 'and has no task');
    assert.equal((await catalogue.activeRunOf(db.sql, active!.policyId!))?.id, active!.id, 'the active run is untouched');
    const warnings = lines.filter((l) => l.msg === 'firing skipped: the policy’s previous run is still active');
    assert.equal(warnings.length, 1, 'logged once, by the scheduler that recorded it');
    assert.equal(warnings[0]!.activeRunId, active!.id);
    await scheduler().tick();
    assert.equal((await catalogue.listRuns(db.sql, { policyName: 'nightly' })).length, 3, 'the skipped firing is not fired again');
    await finishRunsOf('nightly');
  });

  it('does not fire a disabled policy, nor catch up what was missed while disabled', async () => {
    await catalogue.setPolicyEnabled(db.sql, 'nightly', false, now);
    now = new Date('2024-06-07T02:00:00Z');
    await scheduler().tick();
    now = new Date('2024-06-07T10:00:00Z');
    await catalogue.setPolicyEnabled(db.sql, 'nightly', true, now);
    await scheduler().tick();
    assert.equal((await catalogue.listRuns(db.sql, { policyName: 'nightly' })).length, 3);
  });

  it('runs on its own timer when started (the run of the first firing still pending, the next ones are skipped)', async () => {
    const edited = new Date(Date.now() - 1000);
    await catalogue.updatePolicy(db.sql, (await catalogue.getPolicyByName(db.sql, 'empty')).id, parsePolicySettings({
      name: 'empty', selection: { tags: ['prod'] }, remotes: ['nas'], schedule: { cron: '* * * * * *', timeZone: 'UTC' }, retention: 1,
    }), edited);
    now = new Date();
    const seen: string[] = [];
    const live = new Scheduler({
      sql: db.sql, clock: () => new Date(), ids: randomIds, limits: DEFAULT_TASK_LIMITS,
      logger: createLogger({ level: 'silent' }), onRun: (run) => { if (run.policyName === 'empty') seen.push(run.policyName); },
    });
    live.start();
    const firings = async () => (await catalogue.listRuns(db.sql, { policyName: 'empty' })).filter((r) => r.trigger === 'schedule' && r.scheduledAt > edited);
    const deadline = Date.now() + 5000;
    while ((await firings()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await live.stop();
    const states = (await firings()).map((r) => r.state).reverse();
    assert.ok(states.length >= 2, `expected two firings of a per-second schedule, saw ${states.length}`);
    assert.equal(states[0], 'pending');
    assert.ok(states.slice(1).every((s) => s === 'skipped'), `later firings skipped while the first run is pending: ${states.join(', ')}`);
    assert.equal(seen.length, 1, 'onRun is called for runs recorded, not for skipped firings');
  });
});
