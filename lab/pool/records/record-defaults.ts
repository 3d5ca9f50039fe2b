// Realistic default records for each class the lab serves: the field sets of XAPI's datamodel
// (xapi-project/xen-api doc/data/xenapi.json, ocaml/tests/common/test_common.ml defaults), so
// code written against the lab meets the fields a real pool returns. Callers override fields.
import { randomUUID } from 'node:crypto';
import { NULL_REF, type XapiRecord } from './record-store.js';
import { XAPI_EPOCH } from './xapi-time.js';

type Fields = Record<string, unknown>;

function base(fields: Fields): { uuid: string } {
  return { uuid: typeof fields['uuid'] === 'string' ? (fields['uuid'] as string) : randomUUID() };
}

/** The uuid and an empty name, first fields of the classes that have a name. */
function named(fields: Fields): { uuid: string; name_label: string; name_description: string } {
  return { ...base(fields), name_label: '', name_description: '' };
}

/** What the record allows now; nothing is in progress on a new record. */
function operations(allowed: string[]): { allowed_operations: string[]; current_operations: Record<string, string> } {
  return { allowed_operations: allowed, current_operations: {} };
}

/** How a new VM boots (PV and HVM fields), as VM.create requires them: an HVM guest booting from disk. */
export function vmBootDefaults(): Fields {
  return {
    PV_bootloader: '',
    PV_kernel: '',
    PV_ramdisk: '',
    PV_args: '',
    PV_bootloader_args: '',
    PV_legacy_args: '',
    HVM_boot_policy: 'BIOS order',
    HVM_boot_params: { order: 'cdn' },
  };
}

export function newVmRecord(fields: Fields): XapiRecord {
  return {
    ...base(fields),
    ...operations([]),
    name_label: '',
    name_description: '',
    power_state: 'Halted',
    user_version: 1,
    is_a_template: false,
    is_default_template: false,
    suspend_VDI: NULL_REF,
    resident_on: NULL_REF,
    scheduled_to_be_resident_on: NULL_REF,
    affinity: NULL_REF,
    memory_overhead: 11534336,
    memory_target: 0,
    memory_static_max: 1073741824,
    memory_dynamic_max: 1073741824,
    memory_dynamic_min: 1073741824,
    memory_static_min: 536870912,
    VCPUs_params: {},
    VCPUs_max: 1,
    VCPUs_at_startup: 1,
    actions_after_softreboot: 'soft_reboot',
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    consoles: [],
    VIFs: [],
    VBDs: [],
    VUSBs: [],
    crash_dumps: [],
    VTPMs: [],
    ...vmBootDefaults(),
    HVM_shadow_multiplier: 1.0,
    platform: { timeoffset: '0', 'device-model': 'qemu-upstream-compat', viridian: 'false', nx: 'true', acpi: '1', apic: 'true', pae: 'true', hpet: 'true', videoram: '8', vga: 'std' },
    PCI_bus: '',
    other_config: {},
    domid: -1,
    domarch: '',
    last_boot_CPU_flags: {},
    is_control_domain: false,
    metrics: NULL_REF,
    guest_metrics: NULL_REF,
    last_booted_record: '',
    recommendations: '',
    xenstore_data: {},
    ha_always_run: false,
    ha_restart_priority: '',
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: XAPI_EPOCH,
    transportable_snapshot_id: '',
    blobs: {},
    tags: [],
    blocked_operations: {},
    snapshot_info: {},
    snapshot_metadata: '',
    parent: NULL_REF,
    children: [],
    bios_strings: {},
    protection_policy: NULL_REF,
    is_snapshot_from_vmpp: false,
    snapshot_schedule: NULL_REF,
    is_vmss_snapshot: false,
    appliance: NULL_REF,
    start_delay: 0,
    shutdown_delay: 0,
    order: 0,
    VGPUs: [],
    attached_PCIs: [],
    suspend_SR: NULL_REF,
    version: 0,
    generation_id: '0:0',
    hardware_platform_version: 0,
    has_vendor_device: false,
    requires_reboot: false,
    reference_label: '',
    domain_type: 'hvm',
    NVRAM: {},
    pending_guidances: [],
    pending_guidances_recommended: [],
    pending_guidances_full: [],
    ...fields,
  };
}

export function newVdiRecord(fields: Fields): XapiRecord {
  return {
    ...named(fields),
    ...operations(['clone', 'snapshot', 'destroy', 'resize', 'copy', 'data_destroy', 'enable_cbt', 'disable_cbt']),
    SR: NULL_REF,
    VBDs: [],
    crash_dumps: [],
    virtual_size: 0,
    physical_utilisation: 0,
    type: 'user',
    sharable: false,
    read_only: false,
    other_config: {},
    storage_lock: false,
    location: '',
    managed: true,
    missing: false,
    parent: NULL_REF,
    xenstore_data: {},
    sm_config: { vdi_type: 'vhd' },
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: XAPI_EPOCH,
    tags: [],
    allow_caching: false,
    on_boot: 'persist',
    metadata_of_pool: NULL_REF,
    metadata_latest: false,
    is_tools_iso: false,
    cbt_enabled: false,
    ...fields,
  };
}

export function newVbdRecord(fields: Fields): XapiRecord {
  return {
    ...base(fields),
    ...operations(['attach']),
    VM: NULL_REF,
    VDI: NULL_REF,
    device: '',
    userdevice: '0',
    bootable: false,
    mode: 'RW',
    type: 'Disk',
    unpluggable: true,
    storage_lock: false,
    empty: false,
    ...pluggedDeviceState(),
    ...fields,
  };
}

/** The fields a VBD and a VIF share: attachment state, QoS and metrics, as a new device has them. */
function pluggedDeviceState(): Fields {
  return {
    other_config: {},
    currently_attached: false,
    status_code: 0,
    status_detail: '',
    runtime_properties: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
    qos_supported_algorithms: [],
    metrics: NULL_REF,
  };
}

export function newVifRecord(fields: Fields): XapiRecord {
  return {
    ...base(fields),
    ...operations(['attach']),
    device: '0',
    network: NULL_REF,
    VM: NULL_REF,
    MAC: '',
    MTU: 1500,
    ...pluggedDeviceState(),
    MAC_autogenerated: false,
    locking_mode: 'network_default',
    ipv4_allowed: [],
    ipv6_allowed: [],
    ipv4_configuration_mode: 'None',
    ipv4_addresses: [],
    ipv4_gateway: '',
    ipv6_configuration_mode: 'None',
    ipv6_addresses: [],
    ipv6_gateway: '',
    reserved_pci: NULL_REF,
    ...fields,
  };
}

export function newSrRecord(fields: Fields): XapiRecord {
  return {
    ...named(fields),
    ...operations(['vdi_create', 'vdi_destroy', 'vdi_snapshot', 'vdi_clone', 'vdi_resize', 'vdi_data_destroy', 'vdi_enable_cbt', 'vdi_disable_cbt', 'vdi_list_changed_blocks', 'scan']),
    VDIs: [],
    PBDs: [],
    virtual_allocation: 0,
    physical_utilisation: 0,
    physical_size: 0,
    type: 'ext',
    content_type: 'user',
    shared: false,
    other_config: {},
    tags: [],
    sm_config: { devserial: 'lab' },
    blobs: {},
    local_cache_enabled: false,
    introduced_by: NULL_REF,
    clustered: false,
    is_tools_sr: false,
    ...fields,
  };
}

export function newPbdRecord(fields: Fields): XapiRecord {
  return { ...base(fields), host: NULL_REF, SR: NULL_REF, device_config: {}, currently_attached: true, other_config: {}, ...fields };
}

export function newNetworkRecord(fields: Fields): XapiRecord {
  return {
    ...named(fields),
    ...operations([]),
    VIFs: [],
    PIFs: [],
    MTU: 1500,
    other_config: {},
    bridge: '',
    managed: true,
    blobs: {},
    tags: [],
    default_locking_mode: 'unlocked',
    assigned_ips: {},
    purpose: [],
    ...fields,
  };
}

export function newTaskRecord(fields: Fields): XapiRecord {
  return {
    ...named(fields),
    ...operations(['cancel']),
    created: XAPI_EPOCH,
    finished: XAPI_EPOCH,
    status: 'pending',
    resident_on: NULL_REF,
    progress: 0,
    type: '<none/>',
    result: '',
    error_info: [],
    other_config: {},
    subtask_of: NULL_REF,
    subtasks: [],
    backtrace: '()',
    ...fields,
  };
}

/** A locally administered MAC address (02:xx:…) from 5 random bytes. */
export function randomMac(bytes: Uint8Array): string {
  return ['02', ...Array.from(bytes.slice(0, 5), (b) => b.toString(16).padStart(2, '0'))].join(':');
}
