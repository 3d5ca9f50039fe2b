// Backups and restores of a lab VM through a real storage agent, compared by content: a full,
// deltas after guest-like writes, a run cut mid-export followed by a normal run, then every date
// restored to a new VM whose disks' SHA-256 equal the source disks' at that date — including after
// the source VM and its disks are destroyed.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { backupVm } from '../agent/host/backup/backup-vm.js';
import type { BackupOutcome } from '../agent/host/backup/backup-types.js';
import { restoreVm } from '../agent/host/restore/restore-vm.js';
import type { XapiVbd, XapiVif, XapiVm } from '../agent/host/xapi/xapi-records.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { startHostRemote, type HostRemote } from './support/host-remote.js';

interface Dated {
  outcome: BackupOutcome;
  /** Source disk digests (by disk key) at the time of the backup. */
  digests: Map<string, string>;
}

describe('host agent restore: every date comes back byte for byte', () => {
  let env: HostLab;
  let remote: HostRemote;
  let webUuid: string;
  let srUuid: string;
  const policyId = randomUUID();
  const dates: Dated[] = [];

  before(async () => {
    env = await startHostLab();
    remote = await startHostRemote();
    webUuid = await env.vmUuid('web');
    const srs = await env.xapi.call<Record<string, { uuid: string; name_label: string }>>('SR.get_all_records');
    srUuid = Object.values(srs).find((sr) => sr.name_label === 'Restore SR')!.uuid;
  });
  after(async () => {
    await remote?.close();
    await env?.close();
  });

  async function digests(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const vdi of await env.diskUuids(webUuid)) out.set(vdi, (await env.admin.digest(vdi)).sha256);
    return out;
  }

  async function backup(): Promise<BackupOutcome> {
    const previous = dates.at(-1)?.outcome;
    const bases = new Map(previous?.disks.map((d) => [d.diskKey, d.snapshotVdiUuid]) ?? []);
    return backupVm(
      { xapi: env.xapi, disksPerVm: 2, logger: env.logger, transferRetry: { tries: 2, baseDelayMs: 10, maxDelayMs: 10, storageWaitMs: 1000 } },
      { taskId: randomUUID(), policyId, policyJson: JSON.stringify({ id: policyId }), vmUuid: webUuid, targets: [{ remoteId: remote.remoteId, backupId: `b${dates.length + 1}`, storage: remote.storage }], bases },
    );
  }

  async function backupAndRecord(): Promise<void> {
    const before = await digests();
    dates.push({ outcome: await backup(), digests: before });
  }

  async function restoredDigests(newVmUuid: string): Promise<{ vm: XapiVm; byDevice: Map<string, string> }> {
    const { record } = await env.xapi.getRecordByUuid<XapiVm>('VM', newVmUuid);
    const byDevice = new Map<string, string>();
    for (const ref of record.VBDs) {
      const vbd = await env.xapi.getRecord<XapiVbd>('VBD', ref);
      if (vbd.type !== 'Disk') continue;
      const vdiUuid = await env.xapi.call<string>('VDI.get_uuid', vbd.VDI);
      byDevice.set(vbd.userdevice, (await env.admin.digest(vdiUuid)).sha256);
    }
    return { vm: record, byDevice };
  }

  async function expectRestoredEqual(date: Dated, name: string): Promise<XapiVm> {
    const outcome = await restoreVm(
      { xapi: env.xapi, disksPerVm: 2, logger: env.logger },
      { taskId: randomUUID(), vmUuid: webUuid, backupId: date.outcome.backups[0]!.backupId, source: remote.storage, srUuid, nameLabel: name },
    );
    const { vm, byDevice } = await restoredDigests(outcome.newVmUuid);
    const sourceDevices = [...date.digests.values()];
    assert.deepEqual([...byDevice.keys()].sort(), ['0', '1']);
    assert.deepEqual([byDevice.get('0'), byDevice.get('1')], sourceDevices, `${name}: every disk equals the source at that date`);
    assert.equal(vm.name_label, name);
    assert.deepEqual(vm.blocked_operations, {}, 'start is no longer blocked once the import is complete');
    assert.ok(outcome.bytesReceived > 0);
    return vm;
  }

  it('backs up a full, a delta, a cut run, and a delta after it', async () => {
    const [root, data] = await env.diskUuids(webUuid);
    await backupAndRecord();
    await env.admin.write({ vdi: root!, pattern: 'clustered', percent: 10, seed: 101 });
    await env.admin.write({ vdi: data!, pattern: 'scattered', percent: 2, seed: 102 });
    await backupAndRecord();
    await env.admin.write({ vdi: root!, pattern: 'sequential', percent: 5, seed: 103 });
    await env.admin.setFaults({ exportCut: { afterBytes: 300 * 1024, times: 'always' } });
    await assert.rejects(backup(), /VDI_IO_ERROR/);
    await env.admin.clearFaults();
    await env.admin.write({ vdi: data!, pattern: 'clustered', percent: 10, seed: 104 });
    await backupAndRecord();
    assert.deepEqual(dates.map((d) => d.outcome.disks.map((disk) => disk.mode)), [['full', 'full'], ['delta', 'delta'], ['delta', 'delta']]);
  });

  it('restores each date to a new VM whose disks equal the source at that date', async () => {
    for (const [i, date] of dates.entries()) await expectRestoredEqual(date, `web restored #${i + 1}`);
  });

  it('restores onto the same network, with start blocked only while importing', async () => {
    const vm = await expectRestoredEqual(dates[0]!, 'web network check');
    const [vifRef] = vm.VIFs;
    assert.ok(vifRef !== undefined, 'the VIF was recreated');
    const vif = await env.xapi.getRecord<XapiVif>('VIF', vifRef);
    const { record: source } = await env.xapi.getRecordByUuid<XapiVm>('VM', webUuid);
    const sourceVif = await env.xapi.getRecord<XapiVif>('VIF', source.VIFs[0]!);
    assert.equal(vif.network, sourceVif.network);
  });

  it('restores after the source VM, its disks and its snapshots are destroyed', async () => {
    const { ref, record } = await env.xapi.getRecordByUuid<XapiVm>('VM', webUuid);
    if (record.power_state === 'Running') await env.xapi.call('VM.hard_shutdown', ref);
    const vdis: string[] = [];
    for (const vbdRef of record.VBDs) {
      const vbd = await env.xapi.getRecord<XapiVbd>('VBD', vbdRef);
      if (vbd.type === 'Disk') vdis.push(vbd.VDI);
    }
    for (const snapshot of record.snapshots) await env.admin.deleteSnapshot(await env.xapi.call<string>('VM.get_uuid', snapshot));
    await env.xapi.call('VM.destroy', ref);
    for (const vdi of vdis) await env.xapi.call('VDI.destroy', vdi);
    await expectRestoredEqual(dates.at(-1)!, 'web after disaster');
  });
});
