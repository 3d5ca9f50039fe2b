// The generic methods every XAPI class has: get_all, get_all_records, get_record, get_by_uuid,
// get_by_name_label, get_<field> for each field; set_<field> for the settable ones;
// add_to_/remove_from_<map> (MAP_DUPLICATE_KEY on an existing key, removing a missing key is a
// no-op); add_tags / remove_tags. Field names come from the default records (record-defaults.ts).
import { mapDuplicateKey, fieldTypeError } from '../xapi-failure.js';
import type { MethodRegistry } from '../method-registry.js';
import type { XapiRecord } from '../../records/record-store.js';
import * as defaults from '../../records/record-defaults.js';
import { newHostRecord, newPoolRecord } from '../../records/pool-host-defaults.js';

const TEMPLATES: Record<string, () => XapiRecord> = {
  pool: () => newPoolRecord({}),
  host: () => newHostRecord({}),
  SR: () => defaults.newSrRecord({}),
  PBD: () => defaults.newPbdRecord({}),
  network: () => defaults.newNetworkRecord({}),
  VM: () => defaults.newVmRecord({}),
  VBD: () => defaults.newVbdRecord({}),
  VDI: () => defaults.newVdiRecord({}),
  VIF: () => defaults.newVifRecord({}),
  task: () => defaults.newTaskRecord({}),
};

const SETTABLE: Record<string, string[]> = {
  pool: ['name_label', 'name_description', 'other_config', 'default_SR', 'tags'],
  host: ['name_label', 'name_description', 'other_config', 'tags'],
  SR: ['name_label', 'name_description', 'other_config', 'tags', 'sm_config'],
  PBD: ['other_config'],
  network: ['name_label', 'name_description', 'other_config', 'tags', 'MTU'],
  VM: ['name_label', 'name_description', 'other_config', 'tags', 'is_a_template', 'xenstore_data', 'platform', 'HVM_boot_policy', 'HVM_boot_params', 'VCPUs_params', 'PV_args', 'PV_bootloader', 'PV_bootloader_args', 'PV_kernel', 'PV_ramdisk', 'PV_legacy_args', 'blocked_operations', 'actions_after_shutdown', 'actions_after_reboot', 'actions_after_crash', 'affinity', 'suspend_SR', 'start_delay', 'shutdown_delay', 'order', 'ha_restart_priority', 'NVRAM'],
  VBD: ['other_config', 'userdevice', 'bootable', 'mode', 'qos_algorithm_type', 'qos_algorithm_params'],
  VDI: ['name_label', 'name_description', 'other_config', 'tags', 'xenstore_data', 'sm_config', 'sharable', 'read_only', 'on_boot', 'allow_caching'],
  VIF: ['other_config', 'locking_mode', 'qos_algorithm_type', 'qos_algorithm_params'],
  task: ['other_config', 'progress', 'name_description'],
};

const MAPS: Record<string, string[]> = {
  pool: ['other_config', 'gui_config', 'health_check_config'],
  host: ['other_config', 'logging'],
  SR: ['other_config', 'sm_config'],
  PBD: ['other_config', 'device_config'],
  network: ['other_config'],
  VM: ['other_config', 'xenstore_data', 'platform', 'HVM_boot_params', 'VCPUs_params', 'blocked_operations', 'NVRAM'],
  VBD: ['other_config', 'qos_algorithm_params'],
  VDI: ['other_config', 'xenstore_data', 'sm_config'],
  VIF: ['other_config', 'qos_algorithm_params'],
  task: ['other_config'],
};

export function registerClassMethods(registry: MethodRegistry): void {
  for (const [cls, template] of Object.entries(TEMPLATES)) {
    const record = template();
    registerGetters(registry, cls, record);
    for (const field of SETTABLE[cls] ?? []) registerSetter(registry, cls, field, record[field]);
    for (const field of MAPS[cls] ?? []) registerMapMethods(registry, cls, field);
    if (Array.isArray(record['tags'])) registerTagMethods(registry, cls);
  }
}

function registerGetters(registry: MethodRegistry, cls: string, template: XapiRecord): void {
  const readOnly = true;
  registry.define(`${cls}.get_all`, { params: 0, readOnly, run: ({ state }) => state.records.entries(cls).map(([ref]) => ref) });
  registry.define(`${cls}.get_all_records`, {
    params: 0,
    readOnly,
    run: ({ state }) => Object.fromEntries(state.records.entries(cls)),
  });
  registry.define(`${cls}.get_record`, { params: 1, readOnly, run: ({ state }, [ref]) => state.records.get(cls, String(ref)) });
  registry.define(`${cls}.get_by_uuid`, { params: 1, readOnly, run: ({ state }, [uuid]) => state.records.refByUuidOf(cls, String(uuid)) });
  if ('name_label' in template) {
    registry.define(`${cls}.get_by_name_label`, {
      params: 1,
      readOnly,
      run: ({ state }, [label]) => state.records.filter(cls, (r) => r['name_label'] === label),
    });
  }
  for (const field of Object.keys(template)) {
    registry.define(`${cls}.get_${field}`, { params: 1, readOnly, run: ({ state }, [ref]) => state.records.get(cls, String(ref))[field] });
  }
}

function registerSetter(registry: MethodRegistry, cls: string, field: string, example: unknown): void {
  registry.define(`${cls}.set_${field}`, {
    params: 2,
    run: ({ state }, [ref, value]) => {
      if (!sameType(example, value)) throw fieldTypeError(field);
      state.records.update(cls, String(ref), (r) => (r[field] = structuredClone(value)));
    },
  });
}

function registerMapMethods(registry: MethodRegistry, cls: string, field: string): void {
  registry.define(`${cls}.add_to_${field}`, {
    params: 3,
    run: ({ state }, [ref, key, value]) => {
      if (typeof key !== 'string') throw fieldTypeError('key');
      if (typeof value !== 'string') throw fieldTypeError('value');
      const record = state.records.get(cls, String(ref));
      if (key in (record[field] as object)) throw mapDuplicateKey(cls, field, String(ref), key);
      state.records.update(cls, String(ref), (r) => (r[field] = { ...(r[field] as object), [key]: value }));
    },
  });
  registry.define(`${cls}.remove_from_${field}`, {
    params: 2,
    run: ({ state }, [ref, key]) => {
      const record = state.records.get(cls, String(ref));
      if (typeof key !== 'string' || !(key in (record[field] as object))) return;
      state.records.update(cls, String(ref), (r) => {
        const { [key]: _removed, ...rest } = r[field] as Record<string, string>;
        r[field] = rest;
      });
    },
  });
}

function registerTagMethods(registry: MethodRegistry, cls: string): void {
  registry.define(`${cls}.add_tags`, {
    params: 2,
    run: ({ state }, [ref, tag]) => {
      if (typeof tag !== 'string') throw fieldTypeError('value');
      const tags = state.records.get(cls, String(ref))['tags'] as string[];
      if (!tags.includes(tag)) state.records.update(cls, String(ref), (r) => (r['tags'] = [...tags, tag]));
    },
  });
  registry.define(`${cls}.remove_tags`, {
    params: 2,
    run: ({ state }, [ref, tag]) => {
      const tags = state.records.get(cls, String(ref))['tags'] as string[];
      if (tags.includes(tag as string)) state.records.update(cls, String(ref), (r) => (r['tags'] = tags.filter((t) => t !== tag)));
    },
  });
}

function sameType(example: unknown, value: unknown): boolean {
  if (Array.isArray(example)) return Array.isArray(value);
  if (example !== null && typeof example === 'object') {
    return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
  }
  return typeof example === typeof value;
}
