// The lab pool driven by the real xen-api client, as the host agent drives a pool: connect, list,
// snapshot (callAsync), the records and reverse relations a snapshot makes, misuse errors,
// events, tasks, VM/VDI/VBD/VIF creation for restores, and state surviving a restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { XapiError, XapiRecord } from 'xen-api';
import { GiB, MiB, fleet, snapshotDisk, startTestLab, vmDisk, type TestLab } from './support/lab-harness.js';
import { planWrites } from '../lab/pool/workload/write-plan.js';

async function rejectsWith(promise: Promise<unknown>, code: string, params?: string[]): Promise<XapiError> {
  try {
    await promise;
  } catch (error) {
    const e = error as XapiError;
    assert.equal(e.code, code, `expected ${code}, got ${String(e.code)}: ${e.message}`);
    if (params !== undefined) assert.deepEqual(e.params, params);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

describe('lab pool through the xen-api client', () => {
  let lab: TestLab;
  before(async () => {
    lab = await startTestLab({
      fleet: {
        vms: [
          { name: 'web', otherConfig: { role: 'web' }, disks: [{ size: 16 * MiB, fill: 50 }, { size: 8 * MiB, fill: 25 }], vifs: [{}, {}] },
          { name: 'big', powerState: 'Halted', disks: [{ size: 16 * GiB, fill: 0.05 }] },
        ],
      },
    });
  });
  after(async () => {
    await lab?.close();
  });

  it('connects with JSON-RPC and serves the pool, listMethods and realistic records', async () => {
    const { xapi } = lab;
    assert.equal(xapi.status, 'connected');
    assert.equal(xapi.pool['name_label'], 'Lab pool');
    const methods = await xapi.call<string[]>('system.listMethods');
    for (const m of ['VM.get_all_records', 'VDI.get_all_records', 'task.get_all_records', 'VM.snapshot', 'event.from']) assert.ok(methods.includes(m), m);
    const vms = await xapi.getAllRecords('VM');
    assert.deepEqual(vms.map((vm) => vm['name_label']).sort(), ['big', 'web']);
    const web = vms.find((vm) => vm['name_label'] === 'web')!;
    for (const field of ['uuid', 'power_state', 'VBDs', 'VIFs', 'other_config', 'memory_static_max', 'VCPUs_max', 'HVM_boot_params', 'platform', 'bios_strings', 'snapshots', 'snapshot_of', 'is_a_snapshot', 'is_a_template', 'domain_type']) {
      assert.ok(field in web, `VM.${field}`);
    }
    assert.equal(web['power_state'], 'Running');
    assert.deepEqual(web['other_config'], { role: 'web' });
    const byUuid = await xapi.getRecordByUuid('VM', web['uuid'] as string);
    assert.equal(byUuid.$ref, web.$ref);
    const host = await xapi.getRecord('host', xapi.pool['master'] as string);
    assert.ok((host['resident_VMs'] as string[]).includes(web.$ref));
    assert.equal(await xapi.call('VM.get_power_state', web.$ref), 'Running');
  });

  it('keeps reverse relations consistent', async () => {
    const { xapi } = lab;
    const all = async (cls: string) => xapi.call<Record<string, XapiRecord>>(`${cls}.get_all_records`);
    const [vms, vbds, vdis, vifs, srs, networks] = await Promise.all(['VM', 'VBD', 'VDI', 'VIF', 'SR', 'network'].map(all));
    for (const [ref, vbd] of Object.entries(vbds!)) {
      assert.ok((vms![vbd['VM'] as string]!['VBDs'] as string[]).includes(ref), 'VM.VBDs');
      if (vbd['VDI'] !== 'OpaqueRef:NULL') assert.ok((vdis![vbd['VDI'] as string]!['VBDs'] as string[]).includes(ref), 'VDI.VBDs');
    }
    for (const [ref, vdi] of Object.entries(vdis!)) assert.ok((srs![vdi['SR'] as string]!['VDIs'] as string[]).includes(ref), 'SR.VDIs');
    for (const [ref, vif] of Object.entries(vifs!)) {
      assert.ok((networks![vif['network'] as string]!['VIFs'] as string[]).includes(ref), 'network.VIFs');
      assert.ok((vms![vif['VM'] as string]!['VIFs'] as string[]).includes(ref), 'VM.VIFs');
    }
  });

  it('VM.snapshot through callAsync makes a snapshot with XAPI semantics', async () => {
    const { xapi } = lab;
    const { vmRef, vm } = await vmDisk(xapi, 'web');
    await xapi.call('VM.add_to_other_config', vmRef, 'xo:backup:job', 'job-1');
    const snapRef = await xapi.callAsync<string>('VM.snapshot', vmRef, 'web backup');
    assert.match(snapRef, /^OpaqueRef:/);
    const snap = await xapi.getRecord('VM', snapRef);
    assert.equal(snap['is_a_snapshot'], true);
    assert.equal(snap['is_a_template'], true);
    assert.equal(snap['snapshot_of'], vmRef);
    assert.equal(snap['name_label'], 'web backup');
    assert.equal(snap['power_state'], 'Halted');
    assert.match(snap['snapshot_time'] as string, /^\d{8}T\d{2}:\d{2}:\d{2}Z$/);
    assert.deepEqual(snap['other_config'], { role: 'web', 'xo:backup:job': 'job-1' });
    assert.equal(snap['memory_static_max'], vm['memory_static_max']);
    assert.ok(((await xapi.getRecord('VM', vmRef))['snapshots'] as string[]).includes(snapRef), 'VM.snapshots');
    const vbds = await Promise.all((snap['VBDs'] as string[]).map((r) => xapi.getRecord('VBD', r)));
    assert.deepEqual(vbds.map((v) => v['type']).sort(), ['CD', 'Disk', 'Disk']);
    const cd = vbds.find((v) => v['type'] === 'CD')!;
    assert.equal(cd['empty'], true);
    assert.equal(cd['VDI'], 'OpaqueRef:NULL', 'the empty CD drive is copied');
    for (const vbd of vbds.filter((v) => v['type'] === 'Disk')) {
      assert.equal(vbd['VM'], snapRef);
      const vdi = await xapi.getRecord('VDI', vbd['VDI'] as string);
      assert.equal(vdi['is_a_snapshot'], true);
      const source = await xapi.getRecord('VDI', vdi['snapshot_of'] as string);
      assert.ok((source['snapshots'] as string[]).includes(vdi.$ref), 'VDI.snapshots');
      assert.equal(vdi['virtual_size'], source['virtual_size']);
      assert.equal(vdi['name_label'], source['name_label']);
      assert.equal(vdi['snapshot_time'], snap['snapshot_time']);
      assert.deepEqual(vdi['VBDs'], [vbd.$ref]);
    }
    const macs = async (ref: string) =>
      (await Promise.all(((await xapi.getRecord('VM', ref))['VIFs'] as string[]).map((r) => xapi.getRecord('VIF', r)))).map((v) => v['MAC']).sort();
    assert.deepEqual(await macs(snapRef), await macs(vmRef), 'VIFs copied with the same MAC');
    const digests = await Promise.all([vmDisk(xapi, 'web'), snapshotDisk(xapi, snapRef)].map(async (p) => lab.admin.digest((await p).vdi['uuid'] as string)));
    assert.equal(digests[0]!.sha256, digests[1]!.sha256, 'same content right after the snapshot');
  });

  it('snapshots a 16 GiB disk instantly, sharing its blocks', async () => {
    const { xapi, pool } = lab;
    const { vmRef, vdi } = await vmDisk(xapi, 'big');
    const sr = (await xapi.getRecord('SR', vdi['SR'] as string))['uuid'] as string;
    const used = pool.state.disks.usedSlots(sr);
    const started = Date.now();
    const snapRef = await xapi.call<string>('VM.snapshot', vmRef, 'instant');
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 3000, `snapshot of 16 GiB took ${elapsed} ms`);
    assert.equal(pool.state.disks.usedSlots(sr), used, 'no block copied');
    const { vdi: snapVdi } = await snapshotDisk(xapi, snapRef);
    assert.equal(snapVdi['virtual_size'], 16 * GiB);
  });

  it('CD VBDs keep their VDI, ignore_vdis leaves a disk out', async () => {
    const { xapi } = lab;
    const { vmRef, vdi } = await vmDisk(xapi, 'big');
    const iso = await xapi.call<string>('VDI.create', { SR: vdi['SR'], virtual_size: 4 * MiB, type: 'user', sharable: false, read_only: true, other_config: {}, name_label: 'tools.iso' });
    await xapi.call('VBD.create', { VM: vmRef, VDI: iso, userdevice: 'autodetect', bootable: false, mode: 'RO', type: 'CD', empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
    const snapRef = await xapi.callAsync<string>('VM.snapshot', vmRef, 'with cd', [(await vmDisk(xapi, 'big')).vdiRef]);
    const vbds = await Promise.all(((await xapi.getRecord('VM', snapRef))['VBDs'] as string[]).map((r) => xapi.getRecord('VBD', r)));
    assert.deepEqual(vbds.map((v) => [v['type'], v['VDI']]), [['CD', 'OpaqueRef:NULL'], ['CD', iso]], 'no disk; both CDs');
    void vdi;
    assert.equal(((await xapi.getRecord('VDI', iso))['VBDs'] as string[]).length, 2);
  });

  it('raises the errors real XAPI raises for misuse', async () => {
    const { xapi } = lab;
    const { vmRef, vdiRef } = await vmDisk(xapi, 'web');
    await rejectsWith(xapi.call('VM.get_record', 'OpaqueRef:nope'), 'HANDLE_INVALID', ['VM', 'OpaqueRef:nope']);
    await rejectsWith(xapi.call('VM.get_by_uuid', '00000000-0000-0000-0000-000000000000'), 'UUID_INVALID');
    await rejectsWith(xapi.call('VM.no_such_method', vmRef), 'MESSAGE_METHOD_UNKNOWN');
    await rejectsWith(xapi.call('VM.snapshot', vmRef), 'MESSAGE_PARAMETER_COUNT_MISMATCH');
    await xapi.call('VDI.add_to_other_config', vdiRef, 'k', 'v1');
    await rejectsWith(xapi.call('VDI.add_to_other_config', vdiRef, 'k', 'v2'), 'MAP_DUPLICATE_KEY');
    await xapi.call('VDI.remove_from_other_config', vdiRef, 'k');
    await xapi.call('VDI.remove_from_other_config', vdiRef, 'k');
    await xapi.setFieldEntries('VDI', vdiRef, 'other_config', { a: '1', b: '2' });
    assert.deepEqual((await xapi.getRecord('VDI', vdiRef))['other_config'], { a: '1', b: '2' });
    await rejectsWith(xapi.call('VDI.destroy', vdiRef), 'VDI_IN_USE', [vdiRef, 'destroy']);
    await rejectsWith(xapi.call('VM.destroy', vmRef), 'VM_BAD_POWER_STATE', [vmRef, 'halted', 'running']);
    const error = await rejectsWith(xapi.callAsync('VM.destroy', vmRef), 'VM_BAD_POWER_STATE');
    assert.match(error.message, /VM_BAD_POWER_STATE/);
    const { createClient } = await import('xen-api');
    const bad = createClient({ url: lab.pool.url, auth: { user: 'root', password: 'wrong' }, watchEvents: false });
    await rejectsWith(bad.connect(), 'SESSION_AUTHENTICATION_FAILED');
  });

  it('destroying a snapshot VM keeps its VDIs; VDI.destroy then frees them', async () => {
    const { xapi } = lab;
    const { vmRef } = await vmDisk(xapi, 'web');
    const snapRef = await xapi.callAsync<string>('VM.snapshot', vmRef, 'to delete');
    const { vdiRef } = await snapshotDisk(xapi, snapRef);
    await xapi.call('VM.destroy', snapRef);
    await rejectsWith(xapi.call('VM.get_record', snapRef), 'HANDLE_INVALID');
    const vdi = await xapi.getRecord('VDI', vdiRef);
    assert.deepEqual(vdi['VBDs'], []);
    assert.ok(!((await xapi.getRecord('VM', vmRef))['snapshots'] as string[]).includes(snapRef));
    await xapi.call('VDI.destroy', vdiRef);
    await rejectsWith(xapi.call('VDI.get_record', vdiRef), 'HANDLE_INVALID');
    const source = await xapi.getRecord('VDI', vdi['snapshot_of'] as string);
    assert.ok(!(source['snapshots'] as string[]).includes(vdiRef));
  });

  it('creates a VM with disks and VIFs for a restore (VM.create, VDI.create, VBD.create, VIF.create, set_bios_strings)', async () => {
    const { xapi } = lab;
    const { vdi: sourceVdi } = await vmDisk(xapi, 'web');
    const network = (await xapi.getAllRecords('network'))[0]!;
    const vmRef = await xapi.call<string>('VM.create', {
      name_label: 'restored', name_description: 'from backup', user_version: 1, is_a_template: false, affinity: 'OpaqueRef:NULL',
      memory_static_max: GiB, memory_dynamic_max: GiB, memory_dynamic_min: GiB, memory_static_min: 512 * MiB,
      VCPUs_params: {}, VCPUs_max: 2, VCPUs_at_startup: 2, actions_after_shutdown: 'destroy', actions_after_reboot: 'restart',
      actions_after_crash: 'restart', PV_bootloader: '', PV_kernel: '', PV_ramdisk: '', PV_args: '', PV_bootloader_args: '',
      PV_legacy_args: '', HVM_boot_policy: 'BIOS order', HVM_boot_params: { order: 'cd' }, platform: { viridian: 'false' },
      PCI_bus: '', other_config: { restored: 'true' }, recommendations: '',
    });
    const vm = await xapi.getRecord('VM', vmRef);
    assert.equal(vm['power_state'], 'Halted');
    assert.equal(vm['VCPUs_max'], 2);
    const vdiRef = await xapi.call<string>('VDI.create', { name_label: 'restored disk', SR: sourceVdi['SR'], virtual_size: 8 * MiB, type: 'user', sharable: false, read_only: false, other_config: {} });
    assert.deepEqual(await xapi.call('VM.get_allowed_VBD_devices', vmRef), Array.from({ length: 16 }, (_, i) => String(i)));
    await xapi.call('VBD.create', { VM: vmRef, VDI: vdiRef, userdevice: '0', bootable: true, mode: 'RW', type: 'Disk', empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
    await rejectsWith(
      xapi.call('VBD.create', { VM: vmRef, VDI: vdiRef, userdevice: '0', bootable: true, mode: 'RW', type: 'Disk', empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} }),
      'DEVICE_ALREADY_EXISTS',
    );
    assert.ok(!(await xapi.call<string[]>('VM.get_allowed_VBD_devices', vmRef)).includes('0'));
    const vifRef = await xapi.call<string>('VIF.create', { device: '0', network: network.$ref, VM: vmRef, MAC: '02:11:22:33:44:55', MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
    assert.equal((await xapi.getRecord('VIF', vifRef))['MAC'], '02:11:22:33:44:55');
    assert.deepEqual(await xapi.call('VM.get_allowed_VIF_devices', vmRef), ['1', '2', '3', '4', '5', '6']);
    await xapi.call('VM.set_bios_strings', vmRef, { 'system-manufacturer': 'Lab Inc.' });
    const bios = (await xapi.getRecord('VM', vmRef))['bios_strings'] as Record<string, string>;
    assert.equal(bios['system-manufacturer'], 'Lab Inc.');
    assert.equal(bios['bios-vendor'], 'Xen');
    await rejectsWith(xapi.call('VM.set_bios_strings', vmRef, { nonsense: 'x' }), 'INVALID_VALUE');
    await rejectsWith(xapi.call('VM.create', { name_label: 'incomplete' }), 'FIELD_TYPE_ERROR');
    const created = await xapi.getRecord('VM', vmRef);
    assert.equal((created['VBDs'] as string[]).length, 1);
    assert.equal((created['VIFs'] as string[]).length, 1);
    assert.ok(((await xapi.getRecord('network', network.$ref))['VIFs'] as string[]).includes(vifRef));
    await xapi.call('VM.start', vmRef, false, false);
    await rejectsWith(xapi.call('VDI.destroy', vdiRef), 'VDI_IN_USE');
    await xapi.call('VM.hard_shutdown', vmRef);
    await xapi.call('VM.destroy', vmRef);
    assert.deepEqual((await xapi.getRecord('VDI', vdiRef))['VBDs'], [], 'VM.destroy removed the VBD, not the VDI');
    await xapi.call('VDI.destroy', vdiRef);
  });

  it('event.from answers at once when events wait and long-polls otherwise', async () => {
    const { xapi } = lab;
    const token = await xapi.call<string>('event.inject', 'pool', xapi.pool.$ref);
    const first = await xapi.call<{ events: { class: string; operation: string; ref: string; snapshot: XapiRecord }[]; valid_ref_counts: Record<string, number>; token: string }>('event.from', ['pool'], token, 0.1);
    assert.equal(first.events.length, 0);
    let started = Date.now();
    const idle = await xapi.call<typeof first>('event.from', ['vm'], first.token, 0.4);
    assert.ok(Date.now() - started >= 350, 'waited for the timeout');
    assert.deepEqual(idle.events, []);
    assert.equal(typeof idle.valid_ref_counts['vm'], 'number');
    started = Date.now();
    const polling = xapi.call<typeof first>('event.from', ['vm'], idle.token, 30.1);
    setTimeout(() => void xapi.call('pool.add_to_other_config', xapi.pool.$ref, 'unrelated', 'x'), 50);
    const { vmRef } = await vmDisk(xapi, 'web');
    setTimeout(() => void xapi.call('VM.set_name_description', vmRef, 'changed'), 150);
    const woke = await polling;
    assert.ok(Date.now() - started < 5000, 'returned when a VM changed');
    assert.deepEqual(woke.events.map((e) => [e.class, e.operation, e.ref]), [['vm', 'mod', vmRef]]);
    assert.equal(woke.events[0]!.snapshot['name_description'], 'changed');
    await assert.rejects(xapi.call('event.from', ['vm'], 'not-a-token', 1.0), (e: XapiError) => e.code === 'EVENTS_LOST');
    const tasks = await xapi.call<typeof first>('event.from', ['task'], '', 1.0);
    assert.equal(tasks.valid_ref_counts['task'], Object.keys(await xapi.call('task.get_all_records')).length);
  });

  it('tasks: create, record fields, cancel, destroy', async () => {
    const { xapi } = lab;
    const taskRef = await xapi.call<string>('task.create', 'a task', 'for testing');
    const task = await xapi.getRecord('task', taskRef);
    assert.equal(task['status'], 'pending');
    assert.equal(task['name_label'], 'a task');
    for (const field of ['created', 'finished', 'progress', 'result', 'error_info', 'resident_on', 'other_config']) assert.ok(field in task, field);
    const watched = xapi.watchTask(taskRef);
    await xapi.call('task.cancel', taskRef);
    await assert.rejects(watched, (e: Error) => /cancel/i.test(e.message));
    assert.equal((await xapi.getRecord('task', taskRef))['status'], 'cancelled');
    await xapi.call('task.destroy', taskRef);
    await rejectsWith(xapi.call('task.get_record', taskRef), 'HANDLE_INVALID');
  });

  it('CBT: snapshots inherit cbt_enabled, list_changed_blocks marks 64 KiB chunks, data_destroy keeps metadata', async () => {
    const { xapi } = lab;
    const { vmRef, vdiRef, vdi } = await vmDisk(xapi, 'web');
    await xapi.call('VDI.enable_cbt', vdiRef);
    const first = await snapshotDisk(xapi, await xapi.callAsync<string>('VM.snapshot', vmRef, 'cbt 1'));
    assert.equal(first.vdi['cbt_enabled'], true, 'inherited');
    await lab.admin.write({ vdi: vdi['uuid'] as string, pattern: 'clustered', percent: 25, seed: 3 });
    const second = await snapshotDisk(xapi, await xapi.callAsync<string>('VM.snapshot', vmRef, 'cbt 2'));
    await xapi.call('VDI.data_destroy', first.vdiRef);
    const destroyed = await xapi.getRecord('VDI', first.vdiRef);
    assert.equal(destroyed['type'], 'cbt_metadata');
    assert.equal(destroyed['physical_utilisation'], 0);
    const bitmap = Buffer.from(await xapi.call<string>('VDI.list_changed_blocks', first.vdiRef, second.vdiRef), 'base64');
    assert.equal(bitmap.length, 16 * MiB / (64 * 1024) / 8);
    const changed = lab.pool.state.disks.changedBlocks(first.vdi['uuid'] as string, second.vdi['uuid'] as string);
    assert.equal(changed.length, 2, '25 % of 8 blocks: 2 runs of 2 MiB');
    for (let block = 0; block < 8; block++) {
      const bytes = bitmap.subarray(block * 4, block * 4 + 4);
      assert.deepEqual([...bytes], changed.includes(block) ? [255, 255, 255, 255] : [0, 0, 0, 0], `block ${block}`);
    }
    await assert.rejects(
      xapi.getResource('/export_raw_vdi/', { query: { format: 'vhd', vdi: first.vdiRef }, task: true }),
      (e: Error & { response?: { statusCode: number } }) => e.response?.statusCode === 404,
      'no data to export',
    );
    // Scattered 4 KiB pages mark exactly the 64 KiB chunks they fall in, not their 2 MiB blocks.
    await lab.admin.write({ vdi: vdi['uuid'] as string, pattern: 'scattered', percent: 1, seed: 4 });
    const third = await snapshotDisk(xapi, await xapi.callAsync<string>('VM.snapshot', vmRef, 'cbt 3'));
    const pages = planWrites({ pattern: 'scattered', virtualSize: 16 * MiB, percent: 1, seed: 4 });
    const expected = new Set<number>();
    for (const page of pages) for (let c = Math.floor(page.offset / 65536); c * 65536 < page.offset + page.length; c++) expected.add(c);
    const scattered = Buffer.from(await xapi.call<string>('VDI.list_changed_blocks', second.vdiRef, third.vdiRef), 'base64');
    const marked: number[] = [];
    for (let c = 0; c < scattered.length * 8; c++) if (scattered[c >> 3]! & (0x80 >> (c & 7))) marked.push(c);
    assert.deepEqual(marked, [...expected].sort((a, b) => a - b));
    assert.ok(marked.length < 256 / 2, `${marked.length} of 256 chunks`);
    await xapi.call('VDI.disable_cbt', vdiRef);
    await rejectsWith(xapi.call('VDI.list_changed_blocks', second.vdiRef, vdiRef), 'VDI_NO_CBT_METADATA');
    assert.deepEqual(await xapi.call('VDI.get_nbd_info', vdiRef), []);
  });

  it('survives a restart: records and disk content reopen from the state folder', async () => {
    const before = await vmDisk(lab.xapi, 'web');
    const digest = await lab.admin.digest(before.vdi['uuid'] as string);
    const snapshots = (await lab.xapi.getRecord('VM', before.vmRef))['snapshots'];
    await lab.restart();
    const after = await vmDisk(lab.xapi, 'web');
    assert.equal(after.vmRef, before.vmRef, 'same refs');
    assert.deepEqual((await lab.xapi.getRecord('VM', after.vmRef))['snapshots'], snapshots);
    assert.deepEqual(await lab.admin.digest(after.vdi['uuid'] as string), digest);
    const snapRef = await lab.xapi.callAsync<string>('VM.snapshot', after.vmRef, 'after restart');
    assert.equal((await lab.xapi.getRecord('VM', snapRef))['snapshot_of'], after.vmRef);
  });
});

describe('fleet config', () => {
  it('builds pools, SRs, networks and VMs from a config', async () => {
    const lab = await startTestLab({
      fleet: {
        pool: 'Config pool',
        srs: [{ name: 'SR one' }, { name: 'SR two', type: 'lvm' }],
        networks: [{ name: 'net a' }, { name: 'net b', MTU: 9000 }],
        vms: [{ name: 'vm', disks: [{ size: '4MiB', sr: 'SR two', fill: 0 }], vifs: [{ network: 'net b' }] }],
      },
    });
    try {
      assert.equal(lab.xapi.pool['name_label'], 'Config pool');
      const srs = await lab.xapi.getAllRecords('SR');
      assert.deepEqual(srs.map((s) => s['name_label']).sort(), ['SR one', 'SR two']);
      const { vdi } = await vmDisk(lab.xapi, 'vm');
      assert.equal((await lab.xapi.getRecord('SR', vdi['SR'] as string))['name_label'], 'SR two');
      assert.equal(vdi['virtual_size'], 4 * MiB);
      assert.equal(vdi['physical_utilisation'], 0);
      const vif = await lab.xapi.getRecord('VIF', ((await vmDisk(lab.xapi, 'vm')).vm['VIFs'] as string[])[0]!);
      assert.equal(vif['MTU'], 9000);
    } finally {
      await lab.close();
    }
  });

  it('refuses a bad config with the field named', async () => {
    await assert.rejects(startTestLab({ fleet: { vms: [{ name: 'x', disks: [{ size: 'lots' }] }] } }), /fleet\.vms\.0\.disks\.0\.size/);
    await assert.rejects(startTestLab({ faults: { exportCut: { afterBytes: -1 } } }), /faults\.exportCut\.afterBytes/);
  });
});

void fleet;
