// Every operator command of the coordinator's CLI, run against the real control API (gRPC on
// the coordinator's local socket) and a real Postgres catalogue: human tables, --json, helpful errors, exit codes.
// Agents are not involved: task results are applied through the coordinator's own event
// handler, as the event consumer would.
import { addresseeOf } from './support/event-senders.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCliHarness, type CliHarness } from './support/pg-cli-harness.js';
import * as catalogue from '../coordinator/catalogue/index.js';
import { applyTaskEvent } from '../coordinator/lifecycle/index.js';
import { EventHandler } from '../coordinator/events/event-handler.js';
import { randomIds } from '../coordinator/tasks/index.js';
import { DEFAULT_TASK_LIMITS } from '../coordinator/lifecycle/index.js';
import { createLogger } from '../shared/logging/index.js';
import type { BackupPayload } from '../coordinator/tasks/index.js';
import type { BackupDiskRead } from '../coordinator/events/agent-event.js';

const WEB = '11111111-1111-4111-8111-111111111111';
const DB = '22222222-2222-4222-8222-222222222222';
const SR = '33333333-3333-4333-8333-333333333333';
const diskUuid = () => randomUUID();

describe('coordinator CLI', () => {
  let h: CliHarness;
  let events: EventHandler;
  before(async () => {
    h = await startCliHarness();
    events = new EventHandler({
      sql: h.db.sql, clock: () => new Date(), ids: randomIds, limits: DEFAULT_TASK_LIMITS, retryDelay: () => 1000,
      lookup: { findBackup: async () => undefined }, logger: createLogger({ level: 'silent' }),
    });
  });
  after(() => h.close());

  /** Marks a task dispatched as the dispatcher would (without publishing). */
  async function dispatch(taskId: string): Promise<void> {
    await catalogue.withTaskLocked(h.db.sql, taskId, async (task) => ({ save: applyTaskEvent(task, { type: 'dispatch', at: new Date() }, () => 0).task, value: undefined }));
  }

  /** An agent's successful backup result carrying the committed backup. */
  async function succeedBackup(task: catalogue.TaskRecord, parent?: string, reads?: BackupDiskRead[]): Promise<string> {
    const payload = task.payload as unknown as BackupPayload;
    const footer = diskUuid();
    await events.handle({ type: 'started', eventId: randomUUID(), sender: addresseeOf(task, 'host-1'), at: new Date(), taskId: task.id, attempt: 1 });
    await events.handle({
      type: 'result', eventId: randomUUID(), sender: addresseeOf(task, 'host-1'), at: new Date(), taskId: task.id, ok: true, durationMs: 5,
      output: {
        kind: 'backup', backupId: payload.backupId, snapshotUuid: diskUuid(), bytesSent: 1000, reads,
        backup: {
          id: payload.backupId, vmUuid: task.vmUuid!, remote: task.remoteName!, takenAt: new Date(), metadataPath: `vms/${task.vmUuid}/backups/${payload.backupId}.json`,
          disks: [{ diskKey: 'xvda', file: `vms/${task.vmUuid}/disks/xvda/${payload.backupId}.vhd`, sizeBytes: 4 << 20, virtualSize: 1 << 30, footerUuid: footer, parentFooterUuid: parent ?? null, checksum: 'aa' }],
        },
      },
    });
    return footer;
  }

  it('pool add and list, with a clear error for a duplicate', async () => {
    assert.deepEqual(await h.cli('pool', 'add', 'lab', '--site', 'paris'), { code: 0, out: 'added pool lab\n', err: '' });
    const dup = await h.cli('pool', 'add', 'lab');
    assert.equal(dup.code, 1);
    assert.match(dup.err, /adding pool lab: already exists/);
    const list = await h.cli('pool', 'list');
    assert.match(list.out, /^NAME\s+SITE\s+VMS\s+AGENTS\s+DESCRIPTION\nlab\s+paris\s+0\s+0/);
    assert.equal(JSON.parse((await h.cli('pool', 'list', '--json')).out)[0].name, 'lab');
  });

  it('remote add, edit and list; a bad name or address is refused and explained, changing nothing', async () => {
    assert.equal((await h.cli('remote', 'add', 'nas', '--address', '127.0.0.1:9', '--location', '/srv/nas')).code, 0);
    const later = await h.cli('remote', 'add', 'offsite');
    assert.equal(later.code, 0);
    assert.match(later.err, /remote offsite has no address yet: backups to it wait until `deltachain remote edit offsite --address HOST:PORT`/);
    const bad = await h.cli('remote', 'add', 'My Remote');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /remote name "My Remote" is not allowed: use 1 to 64 lower-case letters/);
    const badAddress = await h.cli('remote', 'add', 'tape', '--address', 'tape.example.net');
    assert.equal(badAddress.code, 1);
    assert.match(badAddress.err, /storage address "tape.example.net" is not host:port/);
    assert.equal((await h.cli('remote', 'edit', 'offsite', '--address', 'offsite:99999')).code, 1, 'a port out of range');
    assert.equal((await h.cli('remote', 'edit', 'offsite')).code, 2, 'nothing to change is a usage error');
    assert.equal((await h.cli('remote', 'edit', 'ghost', '--address', 'ghost:1')).code, 4);
    const list = await h.cli('remote', 'list');
    assert.match(list.out, /nas\s+127\.0\.0\.1:9\s+0\s+0 B\s+-\s+\/srv\/nas/);
    assert.match(list.out, /offsite\s+\(none\)/);
    assert.deepEqual(JSON.parse((await h.cli('remote', 'list', '--json')).out).map((r: { name: string }) => r.name), ['nas', 'offsite'], 'tape was not added');
    const edited = await h.cli('remote', 'edit', 'offsite', '--address', 'offsite.example.net:50051', '--site', 'dc2');
    assert.equal(edited.code, 0, edited.err);
    assert.match(edited.out, /its storage agent is at offsite\.example\.net:50051/);
    const offsite = (await catalogue.listRemotes(h.db.sql)).find((r) => r.name === 'offsite');
    assert.deepEqual([offsite?.address, offsite?.site, offsite?.location], ['offsite.example.net:50051', 'dc2', '']);
  });

  it('vm list and agent list show what agents reported', async () => {
    const now = new Date();
    await catalogue.upsertVm(h.db.sql, { uuid: WEB, poolName: 'lab', nameLabel: 'web', tags: ['prod'], powerState: 'Running', lastSeenAt: now });
    await catalogue.upsertVm(h.db.sql, { uuid: DB, poolName: 'lab', nameLabel: 'db', tags: ['prod'], powerState: 'Running', lastSeenAt: now });
    await catalogue.recordHeartbeat(h.db.sql, { id: 'st-nas', role: 'storage', target: 'nas', version: '0.1.0', address: '127.0.0.1:9', runningTasks: 0, concurrency: 2, startedAt: now, at: now });
    await catalogue.recordHeartbeat(h.db.sql, { id: 'host-x', role: 'host', target: 'elsewhere', version: '0.1.0', runningTasks: 1, concurrency: 2, startedAt: now, at: new Date(now.getTime() - 600_000) });
    const vms = await h.cli('vm', 'list', '--pool', 'lab');
    assert.match(vms.out, new RegExp(`${WEB}\\s+web\\s+lab\\s+Running\\s+prod`));
    const agents = await h.cli('agent', 'list');
    assert.match(agents.out, /st-nas\s+storage\s+nas\s+up/);
    assert.doesNotMatch(agents.err, /st-nas/, 'its address is the registered one');
    await catalogue.recordHeartbeat(h.db.sql, { id: 'st-nas', role: 'storage', target: 'nas', version: '0.1.0', address: '127.0.0.1:50999', runningTasks: 0, concurrency: 2, startedAt: now, at: new Date(now.getTime() + 1) });
    const mismatch = await h.cli('agent', 'list');
    assert.match(mismatch.out, /127\.0\.0\.1:50999 \(registered: 127\.0\.0\.1:9; not used\)/);
    assert.match(mismatch.err, /storage agent st-nas of remote nas says it serves 127\.0\.0\.1:50999, but the registered address is 127\.0\.0\.1:9: tasks use the registered one/);
    assert.equal(await catalogue.registeredAddressOf(h.db.sql, 'nas'), '127.0.0.1:9', 'the heartbeat changed nothing tasks use');
    assert.match(agents.out, /host-x\s+host\s+elsewhere \(not registered\)\s+silent/);
    assert.equal(JSON.parse((await h.cli('agent', 'list', '--json')).out).length, 2);
    assert.equal(JSON.parse((await h.cli('vm', 'list', '--json')).out).length, 2);
  });

  it('policy create validates and names the bad field', async () => {
    const badCron = await h.cli('policy', 'create', 'nightly', '--tag', 'prod', '--remote', 'nas', '--schedule', '0 2 * *', '--retention', '3');
    assert.equal(badCron.code, 1);
    assert.match(badCron.err, /schedule\.cron: invalid cron expression "0 2 \* \*"/);
    const unknownRemote = await h.cli('policy', 'create', 'nightly', '--tag', 'prod', '--remote', 'tape', '--schedule', '0 2 * * *', '--retention', '3');
    assert.equal(unknownRemote.code, 4);
    assert.match(unknownRemote.err, /not registered; add it with `deltachain remote add NAME`/);
    const usage = await h.cli('policy', 'create', 'nightly', '--retention', 'lots');
    assert.equal(usage.code, 2);
    assert.match(usage.err, /expected a whole number from 1 to 10000/);
    const ok = await h.cli('policy', 'create', 'nightly', '--tag', 'prod', '--remote', 'nas,offsite', '--schedule', '0 2 * * *', '--time-zone', 'Europe/Paris', '--retention', '2', '--full-interval', '3');
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /created policy nightly; next run \d{4}-\d\d-\d\d 0[01]:00:00Z/);
    assert.equal(h.wakes.policies, 1);
  });

  it('policy list, show, edit, disable, enable', async () => {
    assert.match((await h.cli('policy', 'list')).out, /nightly\s+yes\s+tag:prod\s+nas,offsite\s+0 2 \* \* \* Europe\/Paris\s+2\s+3/);
    assert.match((await h.cli('policy', 'show', 'nightly')).out, /full interval: a new full every 3 backups/);
    assert.match((await h.cli('policy', 'show', 'nightly')).out, /snapshot data: purged after each backup \(CBT metadata kept\)/, 'purge is the default');
    const kept = await h.cli('policy', 'edit', 'nightly', '--no-purge-snapshot-data', '--json');
    assert.equal(JSON.parse(kept.out).settings.purgeSnapshotData, false);
    assert.match((await h.cli('policy', 'show', 'nightly')).out, /snapshot data: kept on the SR between runs/);
    assert.equal(JSON.parse((await h.cli('policy', 'edit', 'nightly', '--retention', '2', '--json')).out).settings.purgeSnapshotData, false, 'an edit that does not name it keeps it');
    assert.equal(JSON.parse((await h.cli('policy', 'edit', 'nightly', '--purge-snapshot-data', '--json')).out).settings.purgeSnapshotData, true);
    const edited = await h.cli('policy', 'edit', 'nightly', '--full-interval', '0', '--json');
    assert.equal(JSON.parse(edited.out).settings.fullInterval, 0);
    assert.deepEqual(JSON.parse(edited.out).settings.remotes, ['nas', 'offsite']);
    assert.equal((await h.cli('policy', 'disable', 'nightly')).out, 'disabled policy nightly\n');
    assert.equal(JSON.parse((await h.cli('policy', 'show', 'nightly', '--json')).out).settings.enabled, false);
    assert.equal((await h.cli('policy', 'enable', 'nightly')).code, 0);
    const missing = await h.cli('policy', 'show', 'nope');
    assert.equal(missing.code, 4);
    assert.match(missing.err, /no policy named nope; see `deltachain policy list`/);
  });

  let runId = '';
  it('policy run records a run with one task per VM and remote', async () => {
    const result = await h.cli('policy', 'run', 'nightly', '--json');
    assert.equal(result.code, 0, result.err);
    const detail = JSON.parse(result.out);
    runId = detail.run.id;
    assert.equal(detail.run.trigger, 'manual');
    assert.equal(detail.tasks.length, 4);
    const human = await h.cli('run', 'show', runId.slice(0, 8));
    assert.match(human.out, /policy:\s+nightly/);
    assert.match(human.out, /backup 11111111→nas\s+queued\s+0\/3/);
  });

  it('policy delete is refused while a run is in progress', async () => {
    const refused = await h.cli('policy', 'delete', 'nightly');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /has a run in progress; wait for it to finish/);
  });

  it('run watch follows the run to its end and exits 0 when it succeeded', async () => {
    const tasks = await catalogue.listTasksOfRun(h.db.sql, runId);
    const watching = h.cli('run', 'watch', runId);
    for (const task of tasks) await dispatch(task.id);
    await new Promise((r) => setTimeout(r, 100));
    const cbt = { diskKey: 'xvda', mode: 'full', readMethod: 'cbt-nbd', fallbackReason: '', fallbackDetail: '', bytesSent: 1000 };
    const fellBack = { ...cbt, readMethod: 'vhd-export', fallbackReason: 'nbd-unavailable', fallbackDetail: 'no network of the pool has purpose nbd' };
    for (const [i, task] of tasks.entries()) await succeedBackup(task, undefined, i === 0 ? [fellBack] : [cbt]);
    const result = await watching;
    assert.equal(result.code, 0, result.err + result.out);
    assert.match(result.out, /backup 11111111→nas: dispatched/);
    assert.match(result.out, /backup 11111111→nas: succeeded 100%/);
    assert.match(result.out, new RegExp(`run ${runId.slice(0, 8)} succeeded`));
    assert.equal((await h.cli('run', 'show', runId, '--json')).code, 0);
    const shown = (await h.cli('run', 'show', runId)).out;
    const how = shown.slice(shown.indexOf('\nhow read:\n'));
    assert.ok(shown.includes('\nhow read:\n'), shown);
    assert.match(how, new RegExp(`  ${tasks[0]!.id.slice(0, 8)} disk xvda: vhd-export, CBT fallback nbd-unavailable: no network of the pool has purpose nbd\n`));
    for (const task of tasks.slice(1)) assert.match(how, new RegExp(`  ${task.id.slice(0, 8)} disk xvda: cbt-nbd\n`));
  });

  it('run list shows runs newest first', async () => {
    const list = await h.cli('run', 'list', '--policy', 'nightly');
    assert.match(list.out, /^RUN\s+POLICY\s+TRIGGER\s+SCHEDULED\s+STATE\s+DURATION\s+ERROR\n[0-9a-f]{8}\s+nightly\s+manual\s+.*succeeded/);
    assert.equal(JSON.parse((await h.cli('run', 'list', '--json')).out).length, 1);
  });

  it('backup list filters by VM and remote', async () => {
    const all = JSON.parse((await h.cli('backup', 'list', '--json')).out);
    assert.equal(all.length, 4);
    const web = await h.cli('backup', 'list', '--vm', WEB, '--remote', 'nas');
    assert.match(web.out, /^BACKUP\s+VM\s+REMOTE\s+TAKEN\s+DISKS\s+SIZE\s+STATUS\n\d{8}T\d{6}Z-[0-9a-f]{8}\s+11111111 web\s+nas\s+.*1 \(1 full\)\s+4 MiB\s+committed\n$/);
    const bad = await h.cli('backup', 'list', '--vm', 'not-a-uuid');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /"not-a-uuid" is not a VM uuid/);
  });

  it("backup points shows a VM's restore points and the remotes holding each", async () => {
    const all = JSON.parse((await h.cli('backup', 'list', '--vm', WEB, '--json')).out) as { id: string; remote: string; takenAtMs: number }[];
    const points = await h.cli('backup', 'points', '--vm', WEB);
    assert.equal(points.code, 0, points.err);
    const remotes = [...new Set(all.map((b) => b.remote))].sort();
    assert.match(points.out, new RegExp(`^TAKEN\\s+${remotes.map((r) => r.toUpperCase()).join('\\s+')}\n`));
    for (const b of all) assert.ok(points.out.includes(b.id), `${b.id} on ${b.remote} is shown`);
    const json = JSON.parse((await h.cli('backup', 'points', '--vm', WEB, '--json')).out) as { takenAtMs: number; remotes: Record<string, { backupId: string }> }[];
    assert.deepEqual(json.flatMap((p) => Object.entries(p.remotes).map(([r, x]) => `${r}/${x.backupId}`)).sort(), all.map((b) => `${b.remote}/${b.id}`).sort());
    assert.deepEqual(json.map((p) => p.takenAtMs), [...json.map((p) => p.takenAtMs)].sort((a, b) => a - b), 'oldest first');
    const none = await h.cli('backup', 'points', '--vm', '00000000-0000-4000-8000-000000000000');
    assert.match(none.out, /no backup of VM 00000000-0000-4000-8000-000000000000 in the catalogue/);
  });

  it('restore resolves a date to a backup, or says what the earliest is', async () => {
    const before = await h.cli('restore', '--vm', WEB, '--at', '2001-01-01', '--pool', 'lab', '--sr', SR, '--no-wait');
    assert.equal(before.code, 4);
    assert.match(before.err, /at or before 2001-01-01T23:59:59.999Z; the earliest is/);
    const now = await h.cli('restore', '--vm', WEB, '--at', 'now', '--remote', 'offsite', '--pool', 'lab', '--sr', SR, '--no-wait', '--json');
    assert.equal(now.code, 0, now.err);
    const task = JSON.parse(now.out);
    assert.equal(task.kind, 'restore');
    assert.equal(task.remote, 'offsite');
    assert.equal(JSON.parse(task.payloadJson).srUuid, SR);
    const [backup] = JSON.parse((await h.cli('backup', 'list', '--vm', DB, '--json')).out);
    const byId = await h.cli('restore', '--backup', backup.id, '--pool', 'lab', '--sr', SR, '--name', 'db-copy', '--no-wait');
    assert.match(byId.out, new RegExp(`restoring backup ${backup.id} .* to pool lab`));
    const noTarget = await h.cli('restore', '--vm', WEB, '--at', 'now', '--pool', 'lab', '--sr', 'sr-1', '--no-wait');
    assert.match(noTarget.err, /"sr-1" is not an SR uuid/);
    const missingPool = await h.cli('restore', '--backup', backup.id, '--sr', SR);
    assert.equal(missingPool.code, 2);
    assert.match(missingPool.err, /required option '--pool <name>' not specified/);
  });

  it('restore (waiting) shows progress lines and the outcome', async () => {
    const [backup] = JSON.parse((await h.cli('backup', 'list', '--vm', WEB, '--remote', 'nas', '--json')).out);
    const waiting = h.cli('restore', '--backup', backup.id, '--pool', 'lab', '--sr', SR);
    let task: catalogue.TaskRecord | undefined;
    for (let i = 0; i < 100 && !task; i++) {
      await new Promise((r) => setTimeout(r, 20));
      task = (await h.db.sql<catalogue.TaskRecord[]>`select * from tasks where kind = 'restore' and state = 'queued' and payload->>'backupId' = ${backup.id}`)[0];
    }
    await dispatch(task!.id);
    await events.handle({ type: 'progress', eventId: randomUUID(), sender: addresseeOf(task!, 'host-1'), at: new Date(), taskId: task!.id, done: 512 << 20, total: 1 << 30, phase: 'import', unit: 'bytes' });
    await new Promise((r) => setTimeout(r, 120));
    await events.handle({ type: 'result', eventId: randomUUID(), sender: addresseeOf(task!, 'host-1'), at: new Date(), taskId: task!.id, ok: true, durationMs: 9, output: { kind: 'restore', newVmUuid: DB, bytesReceived: 1 << 30 } });
    const result = await waiting;
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /restore 11111111→nas: running 50% 512 MiB\/1 GiB/);
    assert.match(result.out, /restored: .*"newVmUuid":"22222222/);
  });

  it('verify queues one task per backup, on their remotes', async () => {
    const one = await h.cli('verify', '--vm', WEB, '--no-wait');
    assert.equal(one.out, 'queued 2 verifications\n');
    const none = await h.cli('verify', '--vm', '44444444-4444-4444-8444-444444444444', '--no-wait');
    assert.equal(none.code, 4);
    assert.match(none.err, /no committed backup to verify/);
    const [backup] = JSON.parse((await h.cli('backup', 'list', '--vm', DB, '--remote', 'nas', '--json')).out);
    const byId = await h.cli('verify', '--backup', backup.id, '--remote', 'nas', '--no-wait', '--json');
    assert.equal(byId.code, 0, byId.err);
    assert.deepEqual(JSON.parse(byId.out).map((t: { kind: string; address: string }) => [t.kind, t.address]), [['verify', 'nas']]);
    const both = await h.cli('verify', '--no-wait');
    assert.match(both.err, /say what to verify: --backup ID or --vm UUID/);
  });

  it('remote scan queues a scan task for the storage agent', async () => {
    const result = await h.cli('remote', 'scan', 'nas', '--no-wait', '--json');
    const task = JSON.parse(result.out);
    assert.equal(task.kind, 'scan');
    assert.equal(task.addressKind, 'remote');
    assert.equal(task.address, 'nas');
    assert.equal((await h.cli('remote', 'scan', 'tape', '--no-wait')).code, 4);
  });

  it('policy delete once the runs are done; backups stay', async () => {
    await h.db.sql`update runs set finished_at = now(), state = 'succeeded' where finished_at is null`;
    assert.equal((await h.cli('policy', 'delete', 'nightly')).out, 'deleted policy nightly\n');
    assert.equal(JSON.parse((await h.cli('backup', 'list', '--json')).out).length, 4);
  });

  it('every command has --help', async () => {
    const commands = [
      ['coordinator'], ['policy', 'create'], ['policy', 'list'], ['policy', 'show'], ['policy', 'edit'], ['policy', 'delete'],
      ['policy', 'enable'], ['policy', 'disable'], ['policy', 'run'], ['pool', 'add'], ['pool', 'list'], ['remote', 'add'],
      ['remote', 'list'], ['remote', 'scan'], ['agent', 'list'], ['vm', 'list'], ['backup', 'list'], ['run', 'list'],
      ['run', 'show'], ['run', 'watch'], ['restore'], ['verify'], ['audit', 'list'],
    ];
    for (const command of commands) {
      const help = await h.cli(...command, '--help');
      assert.equal(help.code, 0, command.join(' '));
      assert.match(help.out, new RegExp(`^Usage: deltachain ${command.join(' ')}`), command.join(' '));
    }
    const create = (await h.cli('policy', 'create', '--help')).out.replace(/\s+/g, ' ');
    assert.match(create, /--purge-snapshot-data after each successful backup, the reference snapshot's disks read over CBT\+NBD keep only their CBT metadata \(VDI\.data_destroy\): no snapshot data stays on the pool's SR between runs/);
    assert.match(create, /--no-purge-snapshot-data keep the reference snapshot's data on the SR/);
  });

  it('an unreachable coordinator is exit code 69 with what to do', async () => {
    const result = await h.cli('pool', 'list', '--api', '127.0.0.1:1', '--insecure');
    assert.equal(result.code, 69);
    assert.match(result.err, /cannot reach the coordinator at 127\.0\.0\.1:1 .*is `deltachain coordinator` running there\?/);
    const gone = await h.cli('pool', 'list', '--socket', join(tmpdir(), 'no-such-coordinator.sock'));
    assert.equal(gone.code, 69, gone.err);
    const plaintext = await h.cli('pool', 'list', '--api', '10.9.9.9:7100');
    assert.equal(plaintext.code, 1);
    assert.match(plaintext.err, /reached over TCP: give --ca, --cert and --key/);
  });

  it('audit list shows every call, newest first, filtered by caller, time and count', async () => {
    assert.equal((await h.cli('pool', 'add', 'audited', '--site', 'dc9')).code, 0);
    assert.equal((await h.cli('pool', 'add', 'audited')).code, 1, 'a second add fails, and is audited as failed');
    await new Promise((r) => setTimeout(r, 100));
    const listed = await h.cli('audit', 'list', '--json', '--since', '5m', '--who', 'local');
    assert.equal(listed.code, 0, listed.err);
    const entries = JSON.parse(listed.out) as { who: string; method: string; outcome: string; arguments: string; detail: string }[];
    const adds = entries.filter((e) => e.method === 'AddPool' && e.arguments.includes('audited'));
    assert.deepEqual(adds.map((e) => [e.who, e.outcome]), [['local socket', 'failed'], ['local socket', 'ok']]);
    assert.match(adds[1]!.arguments, /"site":"dc9"/);
    assert.equal(JSON.parse((await h.cli('audit', 'list', '--json', '--limit', '1')).out).length, 1);
    assert.deepEqual(JSON.parse((await h.cli('audit', 'list', '--json', '--who', 'operator:')).out), []);
    assert.deepEqual(JSON.parse((await h.cli('audit', 'list', '--json', '--since', '2099-01-01')).out), []);
    const table = await h.cli('audit', 'list', '--limit', '3');
    assert.match(table.out, /^AT\s+WHO\s+METHOD\s+OUTCOME/);
    assert.equal((await h.cli('audit', 'list', '--since', 'yesterday')).code, 2);
  });
});
