// Creates a new lab's records and disks from the fleet config: the pool and its host, SRs (with
// PBDs), networks, then each VM with its disks (seeded content of the disk's `content` kind:
// `fill` percent of each disk in 2 MiB runs, deterministic from the lab's seed), VBDs, an empty CD drive and VIFs, started when
// Running.
import type { FleetConfig, VmConfig } from '../config/lab-config.js';
import { newNetworkRecord, newPbdRecord, newSrRecord, vmBootDefaults } from '../records/record-defaults.js';
import { newHostRecord, newPoolRecord } from '../records/pool-host-defaults.js';
import { NULL_REF } from '../records/record-store.js';
import type { LabState } from '../state/lab-state.js';
import { applyWrites } from '../workload/apply-writes.js';
import { planWrites } from '../workload/write-plan.js';
import { allowedVbdDevices, createVbd, createVif } from './device-operations.js';
import { linkRef } from './relations.js';
import { createVdi } from './vdi-operations.js';
import { createVm, startVm } from './vm-operations.js';

export async function buildFleet(state: LabState, fleet: FleetConfig, seed: number): Promise<void> {
  const { records } = state;
  const hostRef = records.add('host', newHostRecord({ name_label: fleet.host, hostname: fleet.host }));
  const srRefs = new Map<string, string>();
  for (const sr of fleet.srs) {
    const srRef = records.add('SR', newSrRecord({ name_label: sr.name, type: sr.type, physical_size: sr.size }));
    const pbdRef = records.add('PBD', newPbdRecord({ host: hostRef, SR: srRef, device_config: { location: `/lab/${sr.name}` } }));
    linkRef(records, 'SR', srRef, 'PBDs', pbdRef);
    linkRef(records, 'host', hostRef, 'PBDs', pbdRef);
    srRefs.set(sr.name, srRef);
    await state.disks.ensureSr(records.get('SR', srRef).uuid);
  }
  const networkRefs = new Map<string, string>();
  for (const network of fleet.networks) {
    const bridge = network.bridge ?? `xenbr${networkRefs.size}`;
    networkRefs.set(network.name, records.add('network', newNetworkRecord({ name_label: network.name, bridge, MTU: network.MTU, purpose: [...network.purpose] })));
  }
  const defaultSr = srRefs.values().next().value!;
  records.add('pool', newPoolRecord({ name_label: fleet.pool, master: hostRef, default_SR: defaultSr, suspend_image_SR: defaultSr, crash_dump_SR: defaultSr }));
  for (const [index, vm] of fleet.vms.entries()) await buildVm(state, vm, index, seed, srRefs, networkRefs);
}

async function buildVm(
  state: LabState,
  vm: VmConfig,
  index: number,
  seed: number,
  srRefs: Map<string, string>,
  networkRefs: Map<string, string>,
): Promise<void> {
  const vmRef = createVm(state, vmArgs(vm));
  for (const [d, disk] of vm.disks.entries()) {
    const srRef = disk.sr === undefined ? srRefs.values().next().value! : srRefs.get(disk.sr);
    if (srRef === undefined) throw new Error(`fleet: VM ${vm.name} disk ${d}: no SR named ${disk.sr}`);
    const vdiRef = await createVdi(state, { SR: srRef, virtual_size: disk.size, name_label: disk.name ?? `${vm.name} ${d}`, type: 'system' });
    createVbd(state, { VM: vmRef, VDI: vdiRef, userdevice: String(d), bootable: d === 0, mode: 'RW', type: 'Disk', empty: false });
    if (disk.fill > 0) {
      const contentSeed = seed * 1000 + index * 10 + d;
      const extents = planWrites({ pattern: 'clustered', virtualSize: disk.size, percent: disk.fill, seed: contentSeed });
      await applyWrites(state, vdiRef, extents, contentSeed, disk.content);
    }
  }
  if (vm.cd) {
    const userdevice = allowedVbdDevices(state, vmRef).includes('3') ? '3' : 'autodetect';
    createVbd(state, { VM: vmRef, VDI: NULL_REF, userdevice, bootable: false, mode: 'RO', type: 'CD', empty: true });
  }
  for (const [v, vif] of vm.vifs.entries()) {
    const networkRef = vif.network === undefined ? networkRefs.values().next().value! : networkRefs.get(vif.network);
    if (networkRef === undefined) throw new Error(`fleet: VM ${vm.name} VIF ${v}: no network named ${vif.network}`);
    createVif(state, { VM: vmRef, network: networkRef, device: String(v), MAC: vif.mac ?? '' });
  }
  if (vm.powerState === 'Running') startVm(state, vmRef);
}

function vmArgs(vm: VmConfig): Record<string, unknown> {
  return {
    name_label: vm.name,
    name_description: 'lab VM',
    user_version: 1,
    is_a_template: false,
    affinity: NULL_REF,
    memory_static_max: vm.memory,
    memory_dynamic_max: vm.memory,
    memory_dynamic_min: vm.memory,
    memory_static_min: Math.min(vm.memory, 512 * 1024 ** 2),
    VCPUs_params: {},
    VCPUs_max: vm.vcpus,
    VCPUs_at_startup: vm.vcpus,
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    ...vmBootDefaults(),
    platform: { 'device-model': 'qemu-upstream-compat', viridian: 'false', nx: 'true', acpi: '1', apic: 'true', pae: 'true', hpet: 'true', videoram: '8', vga: 'std', timeoffset: '0' },
    PCI_bus: '',
    other_config: { ...vm.otherConfig },
    recommendations: '',
  };
}
