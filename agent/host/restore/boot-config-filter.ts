// What of a stored VM record may reach the restored VM. A backup is data from the past, possibly
// from a compromised site or a planted file: the fields that decide what code the new VM boots or
// which host devices it gets (a dom0 bootloader and its arguments, a kernel and command line from
// dom0's disk, PCI and USB passthrough, xenstore entries, device-model arguments) are dropped
// unless the operator asks to keep them (`restore --keep-boot-config`). The result lists what was
// dropped, as "field" or "map:key", for the restore's report. Pure.
import type { XapiVm } from '../xapi/xapi-records.js';

/** Top-level fields dropped unless kept (each non-empty one is reported). */
export const BOOT_PATH_FIELDS = Object.freeze([
  'PV_bootloader',
  'PV_bootloader_args',
  'PV_kernel',
  'PV_ramdisk',
  'PV_args',
  'PV_legacy_args',
  'xenstore_data',
  'PCI_bus',
] as const);

/** Keys of maps dropped unless kept: passthrough devices and device-model arguments. */
export const BOOT_PATH_KEYS: Readonly<Record<'other_config' | 'platform', readonly string[]>> = Object.freeze({
  other_config: ['pci', 'vgpu_pci'],
  // Not device-model, vga, videoram: ordinary emulation choices a guest needs to boot as it did on the pool it was backed up from.
  platform: ['device_model_args', 'pci_passthrough', 'usb_passthrough', 'vgpu_pci', 'vgpu_config'],
});

export interface FilteredRecord {
  vm: XapiVm;
  /** "PV_args", "other_config:pci", …: what the stored record had and the restored VM will not. */
  dropped: string[];
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  return typeof value === 'object' && Object.keys(value as object).length === 0;
}

/** The stored record with the boot-path and passthrough fields removed (unless `keep`). */
export function filterBootConfig(stored: XapiVm, keep: boolean): FilteredRecord {
  if (keep) return { vm: stored, dropped: [] };
  const vm: Record<string, unknown> = { ...stored };
  const dropped: string[] = [];
  // VM.create requires the string fields: they become '' (and xenstore_data {}), not absent.
  for (const field of BOOT_PATH_FIELDS) {
    if (!isEmpty(vm[field])) dropped.push(field);
    vm[field] = field === 'xenstore_data' ? {} : '';
  }
  for (const [map, keys] of Object.entries(BOOT_PATH_KEYS)) {
    const entries = vm[map] as Record<string, string> | undefined;
    if (entries === undefined || typeof entries !== 'object') continue;
    const kept: Record<string, string> = {};
    for (const [key, value] of Object.entries(entries)) {
      if (keys.includes(key)) dropped.push(`${map}:${key}`);
      else kept[key] = value;
    }
    vm[map] = kept;
  }
  return { vm: vm as XapiVm, dropped };
}
