// A backup whose stored VM record carries a dangerous boot path and passthrough (PV_args running
// a shell as init, a dom0 bootloader, a PCI device, xenstore entries, device-model arguments) is
// restored, on the lab pool through the real xen-api client and a real storage agent, as a VM
// without them; with keepBootConfig (`restore --keep-boot-config`) it keeps them. The restore's
// report, and the line `deltachain restore` prints from it, list what was dropped.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { backupVm } from '../agent/host/backup/backup-vm.js';
import { restoreVm } from '../agent/host/restore/restore-vm.js';
import type { XapiVm } from '../agent/host/xapi/xapi-records.js';
import { droppedLine } from '../coordinator/cli/commands/restore-commands.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { startHostRemote, type HostRemote } from './support/host-remote.js';

const DANGEROUS = {
  PV_args: 'init=/bin/sh console=hvc0',
  PV_bootloader: 'pygrub',
  PV_bootloader_args: '--kernel=/attacker/vmlinuz',
  pci: '0/0000:03:00.0',
  xenstore: { 'vm-data/mmio-hole-size': '0', 'attr/evil': '1' },
  deviceModelArgs: '-drive file=/dev/sda',
};

describe('restore drops what a backup must not decide', () => {
  let env: HostLab;
  let remote: HostRemote;
  let vmUuid: string;
  let srUuid: string;
  let backupId: string;

  before(async () => {
    env = await startHostLab();
    remote = await startHostRemote();
    vmUuid = await env.vmUuid('web');
    const srs = await env.xapi.call<Record<string, { uuid: string; name_label: string }>>('SR.get_all_records');
    srUuid = Object.values(srs).find((sr) => sr.name_label === 'Restore SR')!.uuid;
    const ref = await env.xapi.call<string>('VM.get_by_uuid', vmUuid);
    await env.xapi.call('VM.set_PV_args', ref, DANGEROUS.PV_args);
    await env.xapi.call('VM.set_PV_bootloader', ref, DANGEROUS.PV_bootloader);
    await env.xapi.call('VM.set_PV_bootloader_args', ref, DANGEROUS.PV_bootloader_args);
    await env.xapi.call('VM.add_to_other_config', ref, 'pci', DANGEROUS.pci);
    await env.xapi.call('VM.set_xenstore_data', ref, DANGEROUS.xenstore);
    await env.xapi.call('VM.add_to_platform', ref, 'device_model_args', DANGEROUS.deviceModelArgs);
    backupId = 'b-dangerous';
    const policyId = randomUUID();
    await backupVm(
      { xapi: env.xapi, disksPerVm: 2, logger: env.logger, transferRetry: { tries: 2, baseDelayMs: 10, maxDelayMs: 10, storageWaitMs: 1000 } },
      { taskId: randomUUID(), policyId, policyJson: JSON.stringify({ id: policyId }), vmUuid, targets: [{ remoteId: remote.remoteId, backupId, storage: remote.storage }], bases: new Map() },
    );
  });
  after(async () => {
    await remote?.close();
    await env?.close();
  });

  async function restore(keepBootConfig: boolean) {
    const outcome = await restoreVm(
      { xapi: env.xapi, disksPerVm: 2, logger: env.logger },
      { taskId: randomUUID(), vmUuid, backupId, source: remote.storage, srUuid, nameLabel: `restored keep=${keepBootConfig}`, keepBootConfig },
    );
    const { record } = await env.xapi.getRecordByUuid<XapiVm>('VM', outcome.newVmUuid);
    return { outcome, vm: record as XapiVm & Record<string, unknown> };
  }

  it('by default the restored VM has none of the boot-path and passthrough fields, and the report lists them', async () => {
    const { outcome, vm } = await restore(false);
    assert.equal(vm['PV_args'], '');
    assert.equal(vm['PV_bootloader'], '');
    assert.equal(vm['PV_bootloader_args'], '');
    assert.deepEqual(vm['xenstore_data'], {});
    assert.equal(vm.other_config?.['pci'], undefined);
    assert.equal((vm['platform'] as Record<string, string>)['device_model_args'], undefined);
    assert.deepEqual(
      [...(outcome.droppedFields ?? [])].sort(),
      ['PV_args', 'PV_bootloader', 'PV_bootloader_args', 'other_config:pci', 'platform:device_model_args', 'xenstore_data'],
    );
    const line = droppedLine(JSON.stringify({ droppedFields: outcome.droppedFields }), false);
    assert.match(line, /^dropped from the stored VM record: .*PV_args.*other_config:pci.*\(restore --keep-boot-config keeps them\)\n$/);
  });

  it('with keepBootConfig the restored VM keeps them', async () => {
    const { outcome, vm } = await restore(true);
    assert.equal(vm['PV_args'], DANGEROUS.PV_args);
    assert.equal(vm['PV_bootloader'], DANGEROUS.PV_bootloader);
    assert.deepEqual(vm['xenstore_data'], DANGEROUS.xenstore);
    assert.equal(vm.other_config?.['pci'], DANGEROUS.pci);
    assert.equal((vm['platform'] as Record<string, string>)['device_model_args'], DANGEROUS.deviceModelArgs);
    assert.deepEqual(outcome.droppedFields, []);
  });
});
