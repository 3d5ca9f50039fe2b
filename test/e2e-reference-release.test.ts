// Reference snapshots a policy no longer needs are destroyed on the pool, end to end on real
// parts: a lab pool (XAPI through the real xen-api client), its host agent, two storage agents
// and the coordinator, each a real `deltachain` process, on Postgres and NATS JetStream.
//   * the policy's remotes change (nas → offsite): after the next run, each VM has exactly one
//     reference snapshot of the policy, for offsite, and the catalogue only offsite's;
//   * a VM leaves the policy (the tag that selected it is removed on the pool, no policy edit):
//     the next run releases its reference;
//   * the policy is deleted: none of its snapshots is left on the pool.
// Another policy's reference of the same VM is never touched.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { PoolXapi, runPolicyAndWait, type LabStack } from '../lab/story/index.js';
import type * as wire from '../shared/proto/gen/deltachain/control/v1/control.js';
import { startE2eStack, type E2eStack } from './support/e2e-stack.js';
import { findVm, type E2eVm } from './support/e2e-backups.js';

const MiB = 1024 * 1024;
const POOL = {
  name: 'lab-r',
  seed: 21,
  fleet: {
    srs: [{ name: 'Local storage', type: 'ext', size: 2 ** 32 }],
    vms: [
      { name: 'web', disks: [{ name: 'web root', size: 8 * MiB, fill: 40 }] },
      { name: 'db', disks: [{ name: 'db root', size: 8 * MiB, fill: 40 }] },
    ],
  },
};

/** A snapshot on the pool as the host agent tagged it. */
interface TaggedSnapshot {
  uuid: string;
  policy: string;
  vm: string;
  remotes: string;
}

async function waitFor<T>(what: string, read: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('end to end: reference snapshots released', { timeout: 300_000 }, () => {
  let e2e: E2eStack;
  let stack: LabStack;
  let xapi: PoolXapi;
  let sql: postgres.Sql;
  let web: E2eVm;
  let db: E2eVm;
  let rotating = '';
  let other = '';

  async function snapshots(): Promise<TaggedSnapshot[]> {
    const records = await xapi.records('VM');
    return Object.values(records)
      .filter((vm) => vm['is_a_snapshot'] === true)
      .map((vm) => {
        const tags = vm['other_config'] as Record<string, string>;
        return { uuid: String(vm['uuid']), policy: tags['deltachain:policy'] ?? '', vm: tags['deltachain:vm'] ?? '', remotes: tags['deltachain:remotes'] ?? '' };
      })
      .sort((a, b) => `${a.policy}${a.vm}${a.remotes}`.localeCompare(`${b.policy}${b.vm}${b.remotes}`));
  }

  const of = (list: TaggedSnapshot[], policy: string, vm?: E2eVm) => list.filter((s) => s.policy === policy && (!vm || s.vm === vm.uuid)).map((s) => s.remotes);

  async function references(policy: string): Promise<string[]> {
    const rows = await sql<{ vm: string; remote: string }[]>`select vm_uuid::text as vm, remote_name as remote from reference_snapshots where policy_id = ${policy} order by 1, 2`;
    return rows.map((r) => `${r.vm === web.uuid ? 'web' : r.vm === db.uuid ? 'db' : r.vm}@${r.remote}`).sort();
  }

  async function run(policy: string): Promise<wire.RunDetail> {
    const detail = await runPolicyAndWait(stack.control, policy);
    const failed = detail.tasks.filter((t) => t.state !== 'succeeded').map((t) => `${t.kind} ${t.address} ${t.state} ${t.errorCode} ${t.errorMessage}`);
    assert.equal(detail.run!.state, 'succeeded', `run of ${policy}: ${failed.join('; ')}\nhost agent:\n${await e2e.warnings('host-lab-r')}`);
    return detail;
  }

  const settings = (name: string, o: { tags?: string[]; vms?: E2eVm[]; remotes: string[] }): wire.PolicySettings => ({
    name, selection: { vmUuids: (o.vms ?? []).map((v) => v.uuid), tags: o.tags ?? [], pools: [] }, remotes: o.remotes,
    cron: '0 3 * * *', timeZone: 'UTC', retention: 3, fullInterval: 0, concurrency: 2, enabled: true,
  });

  before(async () => {
    e2e = await startE2eStack({ pools: [POOL], remotes: ['nas', 'offsite'] });
    stack = e2e.stack;
    xapi = await PoolXapi.connect(stack.pools.get('lab-r')!);
    sql = postgres(e2e.databaseUrl, { max: 1, onnotice: () => {} });
    web = await findVm(stack, 'lab-r', 'web');
    db = await findVm(stack, 'lab-r', 'db');
    for (const vm of [web, db]) await xapi.call('VM.add_tags', await xapi.call<string>('VM.get_by_uuid', vm.uuid), 'prod');
    await waitFor('the inventory to report the tags', async () => (await stack.control.listVms({ pool: 'lab-r' })).vms.filter((v) => v.tags.includes('prod')).length === 2);
    rotating = (await stack.control.createPolicy({ settings: settings('rotating', { tags: ['prod'], remotes: ['nas'] }) })).policy!.id;
    other = (await stack.control.createPolicy({ settings: settings('other', { vms: [web], remotes: ['nas'] }) })).policy!.id;
    await run('rotating');
    await run('other');
  });
  after(async () => {
    await sql?.end();
    await xapi?.close();
    await e2e?.close();
  });

  it('each policy starts with one reference per VM and remote', async () => {
    const list = await snapshots();
    assert.deepEqual([of(list, rotating, web), of(list, rotating, db), of(list, other, web)], [['nas'], ['nas'], ['nas']]);
  });

  it('after the remotes change (nas → offsite) and a run: one reference per VM, for offsite; the other policy’s untouched', async () => {
    await stack.control.updatePolicy({ name: 'rotating', settings: settings('rotating', { tags: ['prod'], remotes: ['offsite'] }) });
    const detail = await run('rotating');
    const releases = detail.tasks.filter((t) => t.kind === 'release');
    assert.deepEqual(releases.map((t) => [t.address, t.state, JSON.parse(t.payloadJson).reason]), [['lab-r', 'succeeded', 'remote-dropped']], 'the run released what it no longer needs');
    const list = await snapshots();
    assert.deepEqual([of(list, rotating, web), of(list, rotating, db)], [['offsite'], ['offsite']], JSON.stringify(list));
    assert.deepEqual(of(list, other, web), ['nas'], 'another policy’s reference of web stays');
    assert.deepEqual(await references(rotating), ['db@offsite', 'web@offsite'], 'the catalogue keeps offsite’s references only');
    // The next run is a delta against offsite's reference, and still one reference per VM.
    const again = await run('rotating');
    for (const task of again.tasks.filter((t) => t.kind === 'backup')) assert.deepEqual(Object.values(JSON.parse(task.payloadJson).plan).map((p) => (p as { mode: string }).mode), ['delta']);
    const after = await snapshots();
    assert.deepEqual([of(after, rotating, web), of(after, rotating, db)], [['offsite'], ['offsite']]);
  });

  it('a VM whose tag is removed leaves the policy: the next run releases its reference', async () => {
    await xapi.call('VM.remove_tags', await xapi.call<string>('VM.get_by_uuid', db.uuid), 'prod');
    await waitFor('the inventory to report db untagged', async () => !(await stack.control.listVms({ pool: 'lab-r' })).vms.find((v) => v.uuid === db.uuid)!.tags.includes('prod'));
    const detail = await run('rotating');
    assert.deepEqual(detail.tasks.filter((t) => t.kind === 'backup').map((t) => t.vmUuid), [web.uuid], 'db is not backed up any more');
    const release = detail.tasks.find((t) => t.kind === 'release');
    assert.deepEqual([JSON.parse(release!.payloadJson).reason, JSON.parse(release!.payloadJson).vmUuids], ['left-policy', [db.uuid]]);
    const list = await snapshots();
    assert.deepEqual(of(list, rotating, db), [], 'db’s reference of the policy is gone');
    assert.deepEqual(of(list, rotating, web), ['offsite']);
    assert.deepEqual(await references(rotating), ['web@offsite']);
  });

  it('after the policy is deleted, none of its snapshots is left; the other policy’s stays', async () => {
    await stack.control.deletePolicy({ name: 'rotating' });
    await waitFor('the deleted policy’s references to be released', async () => of(await snapshots(), rotating).length === 0);
    // The snapshots go before the release's result event is applied: wait for its task to end too.
    const task = await waitFor('the release task to end', async () => {
      const [row] = await sql<{ state: string; address: string; result: { destroyedSnapshotUuids: string[] } }[]>`
        select state, address, result from tasks where kind = 'release' and payload->>'reason' = 'policy-deleted'`;
      return row !== undefined && ['succeeded', 'failed', 'cancelled'].includes(row.state) ? row : undefined;
    });
    assert.deepEqual([task.state, task.address, task.result.destroyedSnapshotUuids.length], ['succeeded', 'lab-r', 1]);
    assert.deepEqual(of(await snapshots(), other, web), ['nas']);
    assert.deepEqual(await references(rotating), []);
  });
});
