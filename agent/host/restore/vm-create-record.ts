// The record `VM.create` gets when a backup is restored: the recorded VM's configuration (the
// fields XAPI requires, and the ones that shape the guest: memory, VCPUs, boot, platform, …),
// never a template, a new name, our own tags stripped from other_config, and `start` blocked
// until every disk is imported (lifted by the restore at the end). Pure.
import { TAG } from '../plan/snapshot-tags.js';
import type { XapiVm } from '../xapi/xapi-records.js';
import { NULL_REF } from '../xapi/xapi-records.js';

/** Fields copied as they were recorded (when present). */
const COPIED_FIELDS = [
  'name_description',
  'user_version',
  'memory_static_max',
  'memory_dynamic_max',
  'memory_dynamic_min',
  'memory_static_min',
  'VCPUs_params',
  'VCPUs_max',
  'VCPUs_at_startup',
  'actions_after_shutdown',
  'actions_after_reboot',
  'actions_after_crash',
  'actions_after_softreboot',
  'PV_bootloader',
  'PV_kernel',
  'PV_ramdisk',
  'PV_args',
  'PV_bootloader_args',
  'PV_legacy_args',
  'HVM_boot_policy',
  'HVM_boot_params',
  'HVM_shadow_multiplier',
  'platform',
  'PCI_bus',
  'recommendations',
  'xenstore_data',
  'has_vendor_device',
  'hardware_platform_version',
  'domain_type',
  'tags',
  'NVRAM',
] as const;

/** Value of `blocked_operations.start` while disks are imported. */
export const IMPORT_BLOCK_REASON = 'deltachain: restore in progress, disks are being imported';

export interface VmCreateOptions {
  nameLabel: string;
  backupId: string;
  remoteId: string;
  /** The restore task: a redelivery finds the VM it created by this tag. */
  taskId: string;
}

/** other_config keys of a restored VM: which task made it, and its report once complete. */
export const RESTORE_TAG = Object.freeze({ task: 'deltachain:restore-task', result: 'deltachain:restore-result', from: 'deltachain:restored-from' });

export function vmCreateRecord(recorded: XapiVm, options: VmCreateOptions): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const field of COPIED_FIELDS) {
    if (recorded[field] !== undefined) record[field] = recorded[field];
  }
  const ours = [...Object.values(TAG), ...Object.values(RESTORE_TAG)] as string[];
  const otherConfig = Object.fromEntries(Object.entries(recorded.other_config ?? {}).filter(([key]) => !ours.includes(key)));
  return {
    ...record,
    name_label: options.nameLabel,
    is_a_template: false,
    affinity: NULL_REF,
    other_config: {
      ...otherConfig,
      [RESTORE_TAG.from]: `${options.remoteId}/${recorded.uuid}/${options.backupId}`,
      [RESTORE_TAG.task]: options.taskId,
    },
    blocked_operations: {
      ...(recorded.blocked_operations ?? {}),
      start: IMPORT_BLOCK_REASON,
      start_on: IMPORT_BLOCK_REASON,
    },
  };
}

/** The blocked operations to leave once the import is complete (what the VM had). */
export function blockedOperationsAfterImport(recorded: XapiVm): Record<string, string> {
  return { ...(recorded.blocked_operations ?? {}) };
}

export function defaultRestoredName(recorded: XapiVm, timestamp: string): string {
  return `${recorded.name_label} (restored ${timestamp.slice(0, 19).replace('T', ' ')})`;
}
