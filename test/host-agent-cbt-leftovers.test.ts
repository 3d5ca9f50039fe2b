// Purged references (their VDIs `cbt_metadata` after VDI.data_destroy) and their leftovers, on the
// lab pool through the real xen-api client: a release destroys a purged reference like any other;
// CBT metadata left without its snapshot VM (the VM destroyed alone) goes in a release that keeps
// no remote, stays in one that keeps remotes, and is destroyed by the next backup's cleanup unless
// that backup asks for it as its base; another policy's leftovers are never touched.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { backupVm, type BackupContext } from '../agent/host/backup/backup-vm.js';
import type { BackupOutcome } from '../agent/host/backup/backup-types.js';
import { releaseReferences, type ReleaseRequest } from '../agent/host/release/release-references.js';
import { TAG } from '../agent/host/plan/snapshot-tags.js';
import type { XapiRef, XapiVdi } from '../agent/host/xapi/xapi-records.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { startHostRemote, type HostRemote } from './support/host-remote.js';

describe('host agent: purged references and their leftover CBT metadata', () => {
  let env: HostLab;
  let remote: HostRemote;
  let web: string;
  let runs = 0;

  before(async () => {
    env = await startHostLab();
    remote = await startHostRemote();
    web = await env.vmUuid('web');
    // CBT on for the live disks, so their snapshots can be purged (VDI.data_destroy needs it).
    for (const disk of await env.diskUuids(web)) await env.xapi.call('VDI.enable_cbt', await env.xapi.call<XapiRef>('VDI.get_by_uuid', disk));
  });
  after(async () => {
    await remote?.close();
    await env?.close();
  });

  const context = (): BackupContext => ({ xapi: env.xapi, disksPerVm: 2, logger: env.logger, progressIntervalMs: 0 });

  async function backup(policyId: string, bases: Map<string, string> = new Map()): Promise<BackupOutcome> {
    runs++;
    return backupVm(context(), {
      taskId: randomUUID(),
      policyId,
      policyJson: JSON.stringify({ id: policyId, name: 'leftovers' }),
      vmUuid: web,
      targets: [{ remoteId: remote.remoteId, backupId: `20240101T0000${String(runs).padStart(2, '0')}Z-web`, storage: remote.storage }],
      bases,
      purgeSnapshotData: false,
    });
  }

  /** A backup whose snapshot's disks are then purged, as the CBT path does after its commit. */
  async function purgedReference(policyId: string, bases?: Map<string, string>): Promise<BackupOutcome> {
    const outcome = await backup(policyId, bases);
    for (const disk of outcome.disks) await env.xapi.call('VDI.data_destroy', await vdiRef(disk.snapshotVdiUuid));
    for (const disk of outcome.disks) assert.equal((await vdi(disk.snapshotVdiUuid))?.type, 'cbt_metadata');
    return outcome;
  }

  /** The snapshot VM destroyed alone (XAPI keeps its VDIs): its CBT metadata is left behind. */
  async function orphaned(policyId: string): Promise<string[]> {
    const outcome = await purgedReference(policyId);
    await env.xapi.call('VM.destroy', await env.xapi.call<XapiRef>('VM.get_by_uuid', outcome.snapshotUuid));
    return outcome.disks.map((d) => d.snapshotVdiUuid).sort();
  }

  const vdiRef = (uuid: string) => env.xapi.call<XapiRef>('VDI.get_by_uuid', uuid);
  async function vdi(uuid: string): Promise<XapiVdi | undefined> {
    return env.xapi.getRecordByUuid<XapiVdi>('VDI', uuid).then((r) => r.record, () => undefined);
  }
  async function exists(uuids: readonly string[]): Promise<boolean[]> {
    return Promise.all(uuids.map(async (uuid) => (await vdi(uuid)) !== undefined));
  }

  function release(request: Partial<ReleaseRequest> & { policyId: string }) {
    return releaseReferences({ xapi: env.xapi, logger: env.logger, lockVm: (_vm, operation) => operation() }, { taskId: randomUUID(), vmUuids: [web], keepRemotes: [], ...request });
  }

  it('a release destroys a purged reference, its cbt_metadata VDIs with it', async () => {
    const policyId = randomUUID();
    const reference = await purgedReference(policyId);
    const outcome = await release({ policyId });
    assert.deepEqual(outcome.destroyed.map((d) => d.uuid), [reference.snapshotUuid]);
    await assert.rejects(env.xapi.call('VM.get_by_uuid', reference.snapshotUuid), /UUID_INVALID/);
    assert.deepEqual(await exists(reference.disks.map((d) => d.snapshotVdiUuid)), reference.disks.map(() => false));
  });

  it('a release that keeps no remote destroys orphan CBT metadata of the policy; one that keeps remotes, and another policy, leave it', async () => {
    const policyId = randomUUID();
    const otherPolicy = randomUUID();
    const mine = await orphaned(policyId);
    const others = await orphaned(otherPolicy);
    assert.deepEqual(await exists(mine), mine.map(() => true), 'VM.destroy leaves the VDIs');
    const keeping = await release({ policyId, keepRemotes: [remote.remoteId] });
    assert.deepEqual(keeping.orphans, [], 'a kept remote may still ask for it as a base');
    const releasing = await release({ policyId });
    assert.deepEqual(releasing.destroyed, [], 'no snapshot VM left');
    assert.deepEqual(releasing.orphans.map((o) => o.uuid).sort(), mine);
    assert.deepEqual(await exists(mine), mine.map(() => false));
    assert.deepEqual(await exists(others), others.map(() => true), "another policy's are never touched");
    assert.deepEqual((await release({ policyId: otherPolicy, vmUuids: [] })).orphans.map((o) => o.uuid).sort(), others, 'no VM named: every disk of the policy');
    assert.deepEqual((await release({ policyId })).orphans, [], 'a second release finds nothing');
  });

  it("a backup's cleanup destroys the policy's orphan CBT metadata of the VM's disks, but not a base it asks for, nor a purged reference's", async () => {
    const policyId = randomUUID();
    const orphans = await orphaned(policyId);
    const byDisk = new Map<string, string>();
    for (const uuid of orphans) byDisk.set((await vdi(uuid))!.other_config[TAG.vdi]!, uuid);
    const cbtRemoved = (outcome: BackupOutcome) => outcome.removedSnapshots.filter((r) => /CBT metadata/.test(r.reason)).map((r) => r.uuid).sort();
    const reference = await purgedReference(policyId, byDisk);
    assert.deepEqual(cbtRemoved(reference), [], 'the bases asked for stay');
    const asking = await backup(policyId, byDisk);
    assert.deepEqual(cbtRemoved(asking), [], "neither the bases asked for nor the purged reference's VDIs (in its snapshot)");
    assert.deepEqual(await exists(orphans), orphans.map(() => true));
    const next = await backup(policyId);
    assert.deepEqual(cbtRemoved(next), orphans, 'no longer asked for: destroyed, and said so');
    assert.deepEqual(await exists(orphans), orphans.map(() => false));
    assert.ok(next.removedSnapshots.find((r) => orphans.includes(r.uuid))?.reason.includes('whose snapshot is gone'));
  });
});
