// Every long-running process serves /healthz and Prometheus /metrics — checked on the real
// thing: a lab pool, a storage agent, a host agent and the coordinator, each a `deltachain`
// process with a `metrics` section, on a database and NATS namespace of the test's own. Two
// policy runs (a full, then a delta that retention 1 merges away) give every named metric
// something to say; then the coordinator is stopped with SIGTERM while a backup runs, started
// again, and the run is recorded once. At the end every process stops cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ChannelCredentials } from '@grpc/grpc-js';
import { ControlClient } from '../coordinator/api/control-client.js';
import * as catalogue from '../coordinator/catalogue/index.js';
import { LabAdminClient } from '../lab/pool/index.js';
import { METRIC } from '../shared/observability/index.js';
import type * as wire from '../shared/proto/gen/deltachain/control/v1/control.js';
import { httpGet, sample, startDeltachain, startDeltachainLab, waitFor, type RunningProcess } from './support/deploy-processes.js';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';
import { startTestNats, testNatsSection, type TestNats } from './support/storage-nats.js';
import { makeLabSecurity } from '../lab/story/lab-security.js';

interface LabBanner {
  url: string;
  user: string;
  password: string;
  urlWithCredentials: string;
  metrics: string;
  vms: { uuid: string; name: string; isSnapshot: boolean; disks: { vdi: string }[] }[];
}

const observed = (msg: string) => (l: Record<string, unknown>) => (l.msg === msg ? (l as { observability?: string; port?: number; address?: string }) : undefined);

describe('observability of every process (real processes)', { timeout: 300_000 }, () => {
  let folder: string;
  let db: TestDatabase;
  let nats: TestNats;
  let lab: RunningProcess<LabBanner>;
  let storage: RunningProcess<{ observability?: string; address?: string }>;
  let host: RunningProcess<{ observability?: string }>;
  let coordinator: RunningProcess<{ observability?: string; port?: number }>;
  let control: ControlClient;
  let vm: string;
  let coordinatorConfig: string;

  const natsSection = () => testNatsSection(nats.namespace, { ackWaitSeconds: 10 });
  const writeConfig = async (name: string, config: object): Promise<string> => {
    const path = join(folder, `${name}.json`);
    await writeFile(path, JSON.stringify(config, null, 2));
    return path;
  };
  const startCoordinator = async (): Promise<void> => {
    coordinator = await startDeltachain('coordinator', ['coordinator', '--config', coordinatorConfig], observed('coordinator started'));
    control?.close();
    control = new ControlClient(`unix:${join(folder, 'coordinator.sock')}`, ChannelCredentials.createInsecure());
  };
  const runAndWait = async (forceFull = false): Promise<wire.RunDetail> => {
    const { run } = await control.runPolicy({ name: 'nightly', forceFull, vmUuids: [] });
    return finished(run!.run!.id);
  };
  const finished = (id: string): Promise<wire.RunDetail> =>
    waitFor(`run ${id} to finish`, async () => {
      const { run } = await control.getRun({ id });
      return run!.run!.finishedAtMs > 0 && run!.tasks.every((t) => ['succeeded', 'failed', 'cancelled'].includes(t.state)) ? run : undefined;
    }, 90_000);

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'dc-observability-'));
    db = await createTestDatabase();
    nats = await startTestNats();
    lab = await startDeltachainLab<LabBanner>(
      'lab pool',
      ['pool', '--state', join(folder, 'lab'), '--vms', '1', '--disk-size', '16MiB', '--fill', '30', '--json', '--metrics', '127.0.0.1:0', '--log-level', 'warn'],
      (l) => (typeof l.urlWithCredentials === 'string' ? (l as unknown as LabBanner) : undefined),
    );
    vm = lab.ready.vms.find((v) => !v.isSnapshot)!.uuid;
    const log = { level: 'info', pretty: false };
    const metrics = { listen: '127.0.0.1:0' };
    const security = await makeLabSecurity(join(folder, 'tls'));
    const storageConfig = await writeConfig('storage', {
      role: 'storage', agentId: 'storage-nas', log, nats: natsSection(), metrics, shutdownGraceSeconds: 5,
      storage: { remoteId: 'nas', root: join(folder, 'remote'), listen: { host: '127.0.0.1', port: 0 }, tls: await security.storageTls('nas'), heartbeatSeconds: 60 },
      trust: { coordinatorKey: security.coordinatorKey },
    });
    const hostConfig = await writeConfig('host', {
      role: 'host', agentId: 'host-lab', log, nats: natsSection(), metrics, shutdownGraceSeconds: 5,
      pool: { id: 'lab', url: lab.ready.url, user: lab.ready.user, password: lab.ready.password },
      storage: { tls: await security.hostTls('lab') }, trust: { coordinatorKey: security.coordinatorKey }, heartbeatSeconds: 60, progressIntervalMs: 200,
    });
    coordinatorConfig = await writeConfig('coordinator', {
      log, metrics, database: { url: db.url, maxConnections: 4 }, nats: natsSection(), api: { socket: join(folder, 'coordinator.sock') },
      storage: { tls: security.coordinatorTls }, keys: { signing: security.signingKey, digest: security.digestKey },
      retry: { baseMs: 300, maxMs: 2000, jitter: 0 }, dispatchIntervalMs: 200,
    });
    [storage, host] = await Promise.all([
      startDeltachain('storage agent', ['agent', '--config', storageConfig], observed('storage agent ready')),
      startDeltachain('host agent', ['agent', '--config', hostConfig], observed('host agent ready')),
    ]);
    await startCoordinator();
    await control.addPool({ name: 'lab', site: '', description: '' });
    await control.addRemote({ name: 'nas', address: storage.ready.address!, site: '', location: '', description: '' });
    await catalogue.upsertVm(db.sql, { uuid: vm, poolName: 'lab', nameLabel: 'lab-vm-1', tags: [], powerState: 'Running', lastSeenAt: new Date() });
    await control.createPolicy({
      settings: { name: 'nightly', selection: { vmUuids: [vm], tags: [], pools: [] }, remotes: ['nas'], cron: '0 3 * * *', timeZone: 'UTC', retention: 1, fullInterval: 0, concurrency: 1, enabled: true },
    });
    // A full, guest writes, a delta — which retention 1 merges into the full on the storage agent.
    assert.equal((await runAndWait()).run!.state, 'succeeded');
    await new LabAdminClient(lab.ready.urlWithCredentials).write({ vdi: lab.ready.vms.find((v) => v.uuid === vm)!.disks[0]!.vdi, pattern: 'clustered', percent: 10, seed: 2 });
    const second = await runAndWait();
    assert.equal(second.run!.state, 'succeeded', JSON.stringify(second.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    // The run can be marked finished just before the retention merge its backup triggers is queued
    // (events are applied in batches), so wait for the merge itself.
    const merged = await waitFor('the retention merge', async () => {
      const { run } = await control.getRun({ id: second.run!.id });
      const merge = run!.tasks.find((t) => t.kind === 'merge');
      return merge !== undefined && ['succeeded', 'failed', 'cancelled'].includes(merge.state) ? merge : undefined;
    }, 60_000);
    assert.equal(merged.state, 'succeeded', 'retention merged on the storage agent');
  });
  after(async () => {
    control?.close();
    await Promise.all([coordinator, host, storage, lab].map((p) => p?.stop('SIGKILL')));
    await nats?.close();
    await db?.drop();
    await rm(folder, { recursive: true, force: true });
  });

  const scrape = async (address: string | undefined) => {
    assert.ok(address, 'the process logged where /healthz and /metrics listen');
    const [health, metrics] = await Promise.all([httpGet(address, '/healthz'), httpGet(address, '/metrics')]);
    assert.equal(metrics.status, 200);
    assert.match(metrics.contentType, /^text\/plain/);
    return { health: { status: health.status, body: JSON.parse(health.body) as { status: string; role: string; components: Record<string, { ok: boolean }> } }, metrics: metrics.body };
  };

  it('coordinator: healthy with catalogue, NATS and the lease; tasks by state, chain lengths, last good backup age', async () => {
    const { health, metrics } = await scrape(coordinator.ready.observability);
    assert.equal(health.status, 200, JSON.stringify(health.body));
    assert.equal(health.body.role, 'coordinator');
    assert.deepEqual(Object.keys(health.body.components).sort(), ['catalogue', 'leadership', 'nats']);
    assert.equal(sample(metrics, 'deltachain_coordinator_active'), 1, 'the only coordinator is the active one');
    assert.equal(sample(metrics, METRIC.ready), 1);
    assert.equal(sample(metrics, METRIC.tasks, { kind: 'backup', state: 'succeeded' }), 2);
    assert.equal(sample(metrics, METRIC.tasks, { kind: 'merge', state: 'succeeded' }), 1);
    assert.equal(sample(metrics, METRIC.chainLength, { remote: 'nas', vm }), 1, 'retention 1 keeps one backup per chain');
    const age = sample(metrics, METRIC.lastGoodBackupAge, { remote: 'nas', vm, vm_name: 'lab-vm-1' });
    assert.ok(age !== undefined && age >= 0 && age < 600, `age of the last good backup: ${age}`);
    assert.ok(sample(metrics, METRIC.lastGoodBackupTimestamp, { remote: 'nas', vm })! > Date.now() / 1000 - 600);
  });

  it('host agent: healthy with XAPI and NATS; bytes moved and transfer durations, full then delta', async () => {
    const { health, metrics } = await scrape(host.ready.observability);
    assert.equal(health.status, 200, JSON.stringify(health.body));
    assert.deepEqual(Object.keys(health.body.components).sort(), ['nats', 'tasks', 'xapi']);
    assert.equal(sample(metrics, METRIC.tasksFinished, { kind: 'backup', outcome: 'succeeded' }), 2);
    assert.equal(sample(metrics, `${METRIC.transferDuration}_count`, { operation: 'backup', mode: 'full' }), 1);
    assert.equal(sample(metrics, `${METRIC.transferDuration}_count`, { operation: 'backup', mode: 'delta' }), 1);
    assert.ok(sample(metrics, METRIC.bytesMoved, { direction: 'backup' })! > 1024 * 1024, 'the full moved megabytes');
    assert.equal(sample(metrics, METRIC.tasks, { kind: 'backup', state: 'running' }), 0);
  });

  it('storage agent: healthy with its remote and NATS; the merge counted and timed', async () => {
    const { health, metrics } = await scrape(storage.ready.observability);
    assert.equal(health.status, 200, JSON.stringify(health.body));
    assert.deepEqual(Object.keys(health.body.components).sort(), ['nats', 'remote', 'tasks']);
    assert.equal(sample(metrics, METRIC.tasksFinished, { kind: 'merge', outcome: 'succeeded' }), 1);
    assert.equal(sample(metrics, `${METRIC.mergeDuration}_count`), 1);
    assert.equal(sample(metrics, METRIC.buildInfo, { role: 'storage-agent' }), 1);
  });

  it('lab pool: healthy; its VM and the one reference snapshot', async () => {
    const { health, metrics } = await scrape(lab.ready.metrics);
    assert.equal(health.status, 200, JSON.stringify(health.body));
    assert.deepEqual(Object.keys(health.body.components).sort(), ['state', 'xapi']);
    assert.equal(sample(metrics, METRIC.labVms, { kind: 'vm' }), 1);
    assert.equal(sample(metrics, METRIC.labVms, { kind: 'snapshot' }), 1);
    assert.equal(sample(metrics, METRIC.labDiskBytes, { kind: 'vm' }), 16 * 1024 * 1024);
  });

  it('a coordinator stopped with SIGTERM mid-run exits cleanly; started again, it finishes the run and records it once', async () => {
    const admin = new LabAdminClient(lab.ready.urlWithCredentials);
    await admin.setFaults({ slowStreams: { bytesPerSecond: 1024 * 1024 } });
    const { run } = await control.runPolicy({ name: 'nightly', forceFull: true, vmUuids: [] });
    const runId = run!.run!.id;
    await waitFor('the backup task to run', async () => (await control.getRun({ id: runId })).run!.tasks.some((t) => t.kind === 'backup' && t.state === 'running'), 60_000);
    const exit = await coordinator.stop('SIGTERM');
    assert.equal(exit.code, 0, `exit ${exit.code} ${exit.signal}`);
    assert.ok(exit.ms < 15_000, `stopped in ${exit.ms} ms`);
    assert.ok(coordinator.logs.some((l) => l.msg === 'coordinator stopped'));
    await admin.clearFaults();
    await startCoordinator();
    const done = await finished(runId);
    assert.equal(done.run!.state, 'succeeded', JSON.stringify(done.tasks.map((t) => [t.kind, t.state, t.errorMessage])));
    const backupTask = done.tasks.find((t) => t.kind === 'backup')!;
    const recorded = await db.sql`select count(*)::int as n from backups where task_id = ${backupTask.id}`;
    assert.equal(recorded[0]!.n, 1, 'the backup is recorded exactly once');
    const { metrics } = await scrape(coordinator.ready.observability);
    assert.equal(sample(metrics, METRIC.tasks, { kind: 'backup', state: 'succeeded' }), 3);
    assert.equal(sample(metrics, METRIC.chainLength, { remote: 'nas', vm }), 1);
  });

  it('every process stops on SIGTERM with status 0, and says so', async () => {
    for (const [process, line] of [[coordinator, 'coordinator stopped'], [host, 'host agent stopped'], [storage, 'storage agent stopped']] as const) {
      const exit = await process.stop('SIGTERM');
      assert.deepEqual([exit.code, exit.signal], [0, null], `${process.name}`);
      assert.ok(exit.ms < 15_000, `${process.name} stopped in ${exit.ms} ms`);
      assert.ok(process.logs.some((l) => l.msg === line), `${process.name} logged "${line}"`);
    }
    const exit = await lab.stop('SIGTERM');
    assert.deepEqual([exit.code, exit.signal], [0, null], 'lab pool');
  });
});
