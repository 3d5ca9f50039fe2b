// VM inventory on real parts: a real host agent against a lab pool publishes its pool's VMs on
// a test NATS namespace; the coordinator (in process, real Postgres) consumes the reports into
// its catalogue; the control API lists the VMs and policies selecting by pool and by tag pick
// them. Also: a report for an unknown pool is dropped without blocking the consumer, a VM that
// leaves the pool (here: turned into a template) is marked gone at the next report, and the
// catalogue's apply is idempotent and never moved back by a late, older report.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as catalogue from '../coordinator/catalogue/index.js';
import type * as wire from '../shared/proto/gen/deltachain/control/v1/control.js';
import { startHostAgent, type RunningHostAgent } from '../agent/host/index.js';
import { createLogger } from '../shared/logging/index.js';
import { startCoordinatorStack, type CoordinatorStack } from './support/pg-coordinator-stack.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { hostAgentConfig } from './support/host-tasks.js';

const POOL = 'lab';
const INTERVAL_SECONDS = 5;

async function waitFor<T>(what: string, read: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const policy = (name: string, selection: wire.VmSelection): wire.PolicySettings => ({
  name, selection, remotes: ['nas'], cron: '0 3 * * *', timeZone: 'UTC', retention: 3, fullInterval: 0, concurrency: 2, enabled: true,
});

describe('VM inventory from host agents to the coordinator', { timeout: 120_000 }, () => {
  let stack: CoordinatorStack;
  let hostLab: HostLab;
  let agent: RunningHostAgent | undefined;
  let web: string;
  let db: string;
  const client = () => stack.client!;
  const listed = async () => (await client().listVms({ pool: POOL })).vms;

  before(async () => {
    // The stand-in host agent serves another pool: the real one below is the only one for `lab`.
    stack = await startCoordinatorStack('stand-in');
    hostLab = await startHostLab();
    await stack.startCoordinator(undefined, { inProcess: true });
    web = await hostLab.vmUuid('web');
    db = await hostLab.vmUuid('db');
    const dbRef = await hostLab.xapi.call<string>('VM.get_by_uuid', db);
    await hostLab.xapi.call('VM.add_tags', dbRef, 'prod');
    await hostLab.xapi.call('VM.snapshot', dbRef, 'db before inventory');
  });

  after(async () => {
    await agent?.stop().catch(() => undefined);
    await stack?.close();
    await hostLab?.close();
  });

  it('a report for a pool the catalogue lacks is dropped; once the pool is added, the next report lists its VMs', async () => {
    const config = { ...hostAgentConfig({ lab: hostLab.lab, poolId: POOL, namespace: stack.nats.namespace, coordinatorKey: stack.security.coordinatorKey }), inventoryIntervalSeconds: INTERVAL_SECONDS };
    agent = await startHostAgent(config, createLogger({ level: 'silent' }));
    const first = await stack.nats.waitForEvent((e) => e.body?.$case === 'inventory', 10_000, 'inventory event');
    assert.equal(first.agentId, 'host-test');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await catalogue.listVms(stack.db.sql, { pool: POOL })).length, 0, 'nothing recorded for an unknown pool');

    await client().addPool({ name: POOL, site: '', description: '' });
    const vms = await waitFor('the lab VMs in the catalogue', async () => {
      const seen = await listed();
      return seen.length === 2 && seen;
    }, (INTERVAL_SECONDS + 10) * 1000);
    const byUuid = new Map(vms.map((vm) => [vm.uuid, vm]));
    assert.deepEqual([...byUuid.keys()].sort(), [web, db].sort(), 'the two VMs, not the snapshot, template or control domain');
    assert.equal(byUuid.get(web)!.nameLabel, 'web');
    assert.deepEqual(byUuid.get(db)!.tags, ['prod']);
    assert.equal(byUuid.get(db)!.pool, POOL);
    assert.ok(byUuid.get(web)!.powerState !== '');
    const [row] = await stack.db.sql<{ disks: { vdiUuid: string; virtualSize: number }[] }[]>`select disks from vms where uuid = ${web}`;
    assert.deepEqual(row!.disks.map((d) => d.vdiUuid), await hostLab.diskUuids(web), "web's disk VDIs, in device order");
    const [pool] = await stack.db.sql<{ xapiUuid: string }[]>`select xapi_uuid from pools where name = ${POOL}`;
    assert.match(pool!.xapiUuid, /^[0-9a-f-]{36}$/);
  });

  it('policies selecting by pool and by tag pick the reported VMs', async () => {
    await client().addRemote({ name: 'nas', address: '', site: '', location: '', description: '' });
    await client().createPolicy({ settings: policy('whole-pool', { vmUuids: [], tags: [], pools: [POOL] }) });
    await client().createPolicy({ settings: policy('prod-only', { vmUuids: [], tags: ['prod'], pools: [] }) });
    assert.deepEqual((await catalogue.selectVms(stack.db.sql, { vmUuids: [], tags: [], pools: [POOL] })).map((vm) => vm.uuid).sort(), [web, db].sort());
    // The runs are recorded with one backup task per selected VM; the agent must not take them.
    await agent!.stop();
    agent = undefined;
    const whole = (await client().runPolicy({ name: 'whole-pool', forceFull: false, vmUuids: [] })).run!;
    assert.deepEqual(whole.tasks.filter((t) => t.kind === 'backup').map((t) => t.vmUuid).sort(), [web, db].sort());
    const prod = (await client().runPolicy({ name: 'prod-only', forceFull: false, vmUuids: [] })).run!;
    assert.deepEqual(prod.tasks.filter((t) => t.kind === 'backup').map((t) => t.vmUuid), [db]);
  });

  it('a VM no longer in the pool is marked gone at the next report and no longer selected', async () => {
    const webRef = await hostLab.xapi.call<string>('VM.get_by_uuid', web);
    await hostLab.xapi.call('VM.set_is_a_template', webRef, true);
    const config = { ...hostAgentConfig({ lab: hostLab.lab, poolId: POOL, namespace: stack.nats.namespace, agentId: 'host-again', coordinatorKey: stack.security.coordinatorKey }), inventoryIntervalSeconds: INTERVAL_SECONDS };
    agent = await startHostAgent(config, createLogger({ level: 'silent' }));
    await waitFor('web to be gone', async () => (await listed()).every((vm) => vm.uuid !== web), 15_000);
    assert.deepEqual((await listed()).map((vm) => vm.uuid), [db]);
    const [row] = await stack.db.sql<{ goneAt: Date | null }[]>`select gone_at from vms where uuid = ${web}`;
    assert.ok(row!.goneAt instanceof Date, 'kept, marked gone');
    assert.deepEqual((await catalogue.selectVms(stack.db.sql, { vmUuids: [web], tags: [], pools: [POOL] })).map((vm) => vm.uuid), [db]);
    const [pool] = await catalogue.listPools(stack.db.sql).then((pools) => pools.filter((p) => p.name === POOL));
    assert.equal(Number(pool!.vmCount), 1);
  });

  it('applying a report is idempotent, and an older report arriving late moves nothing back', async () => {
    const sql = stack.db.sql;
    await catalogue.addPool(sql, { name: 'idem' });
    const a = randomUUID();
    const b = randomUUID();
    const vm = (uuid: string, name: string) => ({ uuid, nameLabel: name, tags: [], powerState: 'Running', disks: [{ vdiUuid: randomUUID(), virtualSize: 1024 }] });
    const t1 = new Date('2026-01-01T00:00:00Z');
    const t2 = new Date('2026-01-01T00:01:00Z');
    const rows = () => sql<{ uuid: string; nameLabel: string; goneAt: Date | null; lastSeenAt: Date }[]>`select uuid, name_label, gone_at, last_seen_at from vms where pool_name = 'idem' order by name_label`;
    await catalogue.applyInventory(sql, { poolName: 'idem', poolUuid: '', at: t1, vms: [vm(a, 'a'), vm(b, 'b')] });
    const once = await rows();
    assert.deepEqual(await catalogue.applyInventory(sql, { poolName: 'idem', poolUuid: '', at: t1, vms: [vm(a, 'a'), vm(b, 'b')] }), { upserted: 2, gone: 0, claimedElsewhere: [] });
    assert.deepEqual(await rows(), once, 'the same report again changes nothing');

    assert.deepEqual(await catalogue.applyInventory(sql, { poolName: 'idem', poolUuid: '', at: t2, vms: [vm(a, 'a2')] }), { upserted: 1, gone: 1, claimedElsewhere: [] });
    const late = await catalogue.applyInventory(sql, { poolName: 'idem', poolUuid: '', at: t1, vms: [vm(a, 'a'), vm(b, 'b')] });
    assert.equal(late.gone, 0);
    const after = await rows();
    assert.deepEqual(after.map((r) => [r.nameLabel, r.goneAt?.toISOString() ?? null]), [['a2', null], ['b', t2.toISOString()]], 'the late report renamed nothing and revived nothing');

    await assert.rejects(catalogue.applyInventory(sql, { poolName: 'nowhere', poolUuid: '', at: t2, vms: [vm(a, 'a')] }), { code: 'NOT_FOUND' });
  });

  it('a report never takes a VM another pool still has; one that pool found gone moves', async () => {
    const sql = stack.db.sql;
    await catalogue.addPool(sql, { name: 'thief' });
    await catalogue.addPool(sql, { name: 'owner' });
    const a = randomUUID();
    const vm = { uuid: a, nameLabel: 'a', tags: [], powerState: 'Running', disks: [] };
    const at = (minute: number) => new Date(Date.UTC(2026, 0, 2, 0, minute));
    const poolOf = async () => (await sql<{ poolName: string }[]>`select pool_name from vms where uuid = ${a}`)[0]?.poolName;
    await catalogue.applyInventory(sql, { poolName: 'owner', poolUuid: '', at: at(1), vms: [vm] });
    assert.deepEqual(await catalogue.applyInventory(sql, { poolName: 'thief', poolUuid: '', at: at(2), vms: [{ ...vm, nameLabel: 'stolen' }] }), { upserted: 0, gone: 0, claimedElsewhere: [a] });
    assert.equal(await poolOf(), 'owner');
    await catalogue.applyInventory(sql, { poolName: 'owner', poolUuid: '', at: at(3), vms: [] });
    await catalogue.applyInventory(sql, { poolName: 'thief', poolUuid: '', at: at(4), vms: [vm] });
    assert.equal(await poolOf(), 'thief', 'migrated: gone from its old pool, reported by the new one');
  });
});
