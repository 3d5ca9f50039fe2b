// VM lifecycle with XAPI's rules: create (required fields, memory and VCPU constraints), destroy
// (Halted only; removes VBDs and VIFs, never VDIs), start / shutdown (power state, attached
// devices), and BIOS strings. VM.snapshot lives in vm-snapshot.ts.
import { newVmRecord } from '../records/record-defaults.js';
import { NULL_REF } from '../records/record-store.js';
import { XapiFailure, vmBadPowerState } from '../rpc/xapi-failure.js';
import type { LabState } from '../state/lab-state.js';
import { destroyVbd, destroyVif } from './device-operations.js';
import { boolField, floatField, intField, mapField, stringField, stringListField, type Args } from './record-args.js';
import { unlinkRef } from './relations.js';

const REQUIRED_STRINGS = ['actions_after_shutdown', 'actions_after_reboot', 'actions_after_crash', 'PV_bootloader', 'PV_kernel', 'PV_ramdisk', 'PV_args', 'PV_bootloader_args', 'PV_legacy_args', 'HVM_boot_policy', 'PCI_bus', 'recommendations'] as const;
const REQUIRED_MAPS = ['VCPUs_params', 'HVM_boot_params', 'platform', 'other_config'] as const;
const OPTIONAL_MAPS = ['xenstore_data', 'blocked_operations', 'NVRAM'] as const;

export const BIOS_STRING_KEYS = ['bios-vendor', 'bios-version', 'system-manufacturer', 'system-product-name', 'system-version', 'system-serial-number', 'enclosure-asset-tag', 'baseboard-manufacturer', 'baseboard-product-name', 'baseboard-version', 'baseboard-serial-number', 'baseboard-asset-tag', 'baseboard-location-in-chassis', 'hp-rombios', 'oem-1', 'oem-2'];

/** VM.create: `args` is the record the client sent. */
export function createVm(state: LabState, args: Args): string {
  const fields: Args = {
    name_label: stringField(args, 'name_label', ''),
    name_description: stringField(args, 'name_description', ''),
    user_version: intField(args, 'user_version'),
    is_a_template: boolField(args, 'is_a_template'),
    affinity: stringField(args, 'affinity'),
    memory_static_max: intField(args, 'memory_static_max'),
    memory_dynamic_max: intField(args, 'memory_dynamic_max'),
    memory_dynamic_min: intField(args, 'memory_dynamic_min'),
    memory_static_min: intField(args, 'memory_static_min'),
    VCPUs_max: intField(args, 'VCPUs_max'),
    VCPUs_at_startup: intField(args, 'VCPUs_at_startup'),
    tags: stringListField(args, 'tags', []),
    HVM_shadow_multiplier: floatField(args, 'HVM_shadow_multiplier', 1.0),
    has_vendor_device: boolField(args, 'has_vendor_device', false),
    hardware_platform_version: intField(args, 'hardware_platform_version', 0),
    domain_type: stringField(args, 'domain_type', 'hvm'),
    actions_after_softreboot: stringField(args, 'actions_after_softreboot', 'soft_reboot'),
    reference_label: stringField(args, 'reference_label', ''),
  };
  for (const f of REQUIRED_STRINGS) fields[f] = stringField(args, f);
  for (const f of REQUIRED_MAPS) fields[f] = mapField(args, f);
  for (const f of OPTIONAL_MAPS) fields[f] = mapField(args, f, {});
  if (fields['affinity'] !== NULL_REF) state.records.get('host', fields['affinity'] as string);
  checkMemory(fields);
  checkVcpus(fields);
  return state.records.add('VM', newVmRecord({ ...fields, memory_target: fields['memory_dynamic_max'] }));
}

function checkMemory(f: Args): void {
  const [smin, dmin, dmax, smax] = ['memory_static_min', 'memory_dynamic_min', 'memory_dynamic_max', 'memory_static_max'].map((k) => f[k] as number);
  if (!(smin! <= dmin! && dmin! <= dmax! && dmax! <= smax!)) {
    throw new XapiFailure('MEMORY_CONSTRAINT_VIOLATION', ['Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max <= static_max']);
  }
}

function checkVcpus(f: Args): void {
  const max = f['VCPUs_max'] as number;
  const atStartup = f['VCPUs_at_startup'] as number;
  if (atStartup < 1) throw new XapiFailure('INVALID_VALUE', ['VCPUs_at_startup', String(atStartup)]);
  if (atStartup > max) throw new XapiFailure('INVALID_VALUE', ['VCPU values must satisfy: 0 < VCPUs_at_startup <= VCPUs_max', String(atStartup)]);
}

/** VM.destroy: Halted only; removes the VM, its VBDs and VIFs; VDIs stay. */
export function destroyVm(state: LabState, vmRef: string): void {
  const { records } = state;
  const vm = records.get('VM', vmRef);
  if (vm['power_state'] !== 'Halted') throw vmBadPowerState(vmRef, 'Halted', vm['power_state'] as string);
  for (const vbd of vm['VBDs'] as string[]) if (records.has('VBD', vbd)) destroyVbd(state, vbd);
  for (const vif of vm['VIFs'] as string[]) if (records.has('VIF', vif)) destroyVif(state, vif);
  unlinkRef(records, 'VM', vm['snapshot_of'] as string, 'snapshots', vmRef);
  records.delete('VM', vmRef);
}

/** VM.start: Halted → Running on the lab's host; disks and VIFs become attached. */
export function startVm(state: LabState, vmRef: string): void {
  const vm = state.records.get('VM', vmRef);
  if (vm['is_a_template'] === true) throw new XapiFailure('VM_IS_TEMPLATE', [vmRef, 'start']);
  if (vm['power_state'] !== 'Halted') throw vmBadPowerState(vmRef, 'Halted', vm['power_state'] as string);
  setPower(state, vmRef, true);
}

/** VM.clean_shutdown / hard_shutdown: Running → Halted. */
export function shutdownVm(state: LabState, vmRef: string): void {
  const vm = state.records.get('VM', vmRef);
  if (vm['power_state'] !== 'Running') throw vmBadPowerState(vmRef, 'Running', vm['power_state'] as string);
  setPower(state, vmRef, false);
}

function setPower(state: LabState, vmRef: string, running: boolean): void {
  const { records } = state;
  const host = state.hostRef;
  const vm = records.update('VM', vmRef, (r) => {
    r['power_state'] = running ? 'Running' : 'Halted';
    r['resident_on'] = running ? host : NULL_REF;
    r['domid'] = running ? 1 + records.filter('VM', (v) => v['power_state'] === 'Running').length : -1;
  });
  for (const vbd of vm['VBDs'] as string[]) {
    const attach = running && records.find('VBD', vbd)?.['empty'] === false;
    records.update('VBD', vbd, (r) => (r['currently_attached'] = attach));
  }
  for (const vif of vm['VIFs'] as string[]) records.update('VIF', vif, (r) => (r['currently_attached'] = running));
  records.update('host', host, (r) => {
    const resident = (r['resident_VMs'] as string[]).filter((ref) => ref !== vmRef);
    r['resident_VMs'] = running ? [...resident, vmRef] : resident;
  });
}

/** VM.set_bios_strings: Halted only, known keys only; merged over XAPI's defaults. */
export function setBiosStrings(state: LabState, vmRef: string, value: unknown): void {
  const vm = state.records.get('VM', vmRef);
  if (vm['power_state'] !== 'Halted') throw vmBadPowerState(vmRef, 'Halted', vm['power_state'] as string);
  const strings = mapField({ value }, 'value');
  for (const [key, text] of Object.entries(strings)) {
    if (!BIOS_STRING_KEYS.includes(key)) throw new XapiFailure('INVALID_VALUE', [key, 'Unknown key']);
    if (text.length > 512) throw new XapiFailure('INVALID_VALUE', [key, 'The value is too long']);
  }
  state.records.update('VM', vmRef, (r) => {
    r['bios_strings'] = { ...defaultBiosStrings(), ...(r['bios_strings'] as object), ...strings };
  });
}

function defaultBiosStrings(): Record<string, string> {
  return {
    'bios-vendor': 'Xen',
    'bios-version': '',
    'system-manufacturer': 'Xen',
    'system-product-name': 'HVM domU',
    'system-version': '',
    'system-serial-number': '',
    'enclosure-asset-tag': '',
    'baseboard-manufacturer': '',
    'baseboard-product-name': '',
    'baseboard-version': '',
    'baseboard-serial-number': '',
    'baseboard-asset-tag': '',
    'baseboard-location-in-chassis': '',
    'hp-rombios': '',
    'oem-1': 'Xen',
    'oem-2': 'MS_VM_CERT/SHA1/bdbeb6e0a816d43fa6d3fe8aaef04c2bad9d3e3d',
  };
}
