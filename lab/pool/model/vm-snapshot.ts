// VM.snapshot with XAPI's semantics: a new VM record (`is_a_snapshot`, `is_a_template`,
// `snapshot_of`, `snapshot_time`, Halted) copying the source's configuration and other_config;
// each disk VBD's VDI snapshotted copy-on-write (unless listed in ignore_vdis) with a new VBD;
// CD VBDs keep their VDI; VIFs copied with the same MAC. Reverse relations are linked on both
// sides. If a disk fails midway, what was made is destroyed again.
import { randomUUID } from 'node:crypto';
import { newVbdRecord, newVifRecord } from '../records/record-defaults.js';
import { NULL_REF, type XapiRecord } from '../records/record-store.js';
import { xapiTime } from '../records/xapi-time.js';
import type { LabState } from '../state/lab-state.js';
import { destroyVm } from './vm-operations.js';
import { destroyVdi, snapshotVdi } from './vdi-operations.js';
import { linkRef } from './relations.js';

/** Fields that describe a VM's identity, state or relations rather than its configuration. */
const NOT_COPIED = new Set(['uuid', 'VBDs', 'VIFs', 'snapshots', 'children', 'parent', 'consoles', 'crash_dumps', 'VTPMs', 'VUSBs', 'VGPUs', 'attached_PCIs', 'current_operations', 'allowed_operations', 'resident_on', 'scheduled_to_be_resident_on', 'domid', 'power_state', 'metrics', 'guest_metrics']);

const SNAPSHOT_OPERATIONS = ['export', 'destroy', 'clone', 'copy', 'revert', 'snapshot', 'changing_static_range'];

export interface SnapshotVmOptions {
  name: string;
  /** VDIs not to snapshot (their VBDs are left out of the snapshot). */
  ignoreVdis?: string[];
  date?: Date;
}

export async function snapshotVm(state: LabState, vmRef: string, options: SnapshotVmOptions): Promise<string> {
  const { records } = state;
  const source = records.get('VM', vmRef);
  const date = options.date ?? new Date();
  const snapRef = records.add('VM', snapshotRecord(source, vmRef, options.name, date));
  const made: string[] = [];
  try {
    for (const vbdRef of source['VBDs'] as string[]) {
      await copyVbd(state, records.get('VBD', vbdRef), snapRef, date, options.ignoreVdis ?? [], made);
    }
  } catch (error) {
    destroyVm(state, snapRef);
    for (const vdi of made) await destroyVdi(state, vdi);
    throw error;
  }
  for (const vifRef of source['VIFs'] as string[]) copyVif(state, records.get('VIF', vifRef), snapRef);
  linkRef(records, 'VM', vmRef, 'snapshots', snapRef);
  return snapRef;
}

/** The snapshot VM's record: the source's configuration, a snapshot's identity and state. */
function snapshotRecord(source: XapiRecord, vmRef: string, name: string, date: Date): XapiRecord {
  const copy: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(structuredClone(source))) if (!NOT_COPIED.has(field)) copy[field] = value;
  return {
    ...(copy as XapiRecord),
    uuid: randomUUID(),
    name_label: name,
    is_a_snapshot: true,
    is_a_template: true,
    snapshot_of: vmRef,
    snapshot_time: xapiTime(date),
    power_state: 'Halted',
    resident_on: NULL_REF,
    scheduled_to_be_resident_on: NULL_REF,
    domid: -1,
    allowed_operations: SNAPSHOT_OPERATIONS,
    current_operations: {},
    metrics: NULL_REF,
    guest_metrics: NULL_REF,
    parent: NULL_REF,
    ...Object.fromEntries(['VBDs', 'VIFs', 'snapshots', 'children', 'consoles', 'crash_dumps', 'VTPMs', 'VUSBs', 'VGPUs', 'attached_PCIs'].map((f) => [f, []])),
  };
}

async function copyVbd(state: LabState, vbd: XapiRecord, snapRef: string, date: Date, ignore: string[], made: string[]): Promise<void> {
  let vdiRef = vbd['VDI'] as string;
  if (vbd['type'] === 'Disk' && vbd['empty'] !== true) {
    if (ignore.includes(vdiRef)) return;
    vdiRef = await snapshotVdi(state, vdiRef, { date });
    made.push(vdiRef);
  }
  const ref = state.records.add(
    'VBD',
    newVbdRecord({
      VM: snapRef,
      VDI: vdiRef,
      userdevice: vbd['userdevice'],
      device: vbd['device'],
      bootable: vbd['bootable'],
      mode: vbd['mode'],
      type: vbd['type'],
      unpluggable: vbd['unpluggable'],
      empty: vbd['empty'],
      other_config: { ...(vbd['other_config'] as object) },
      qos_algorithm_type: vbd['qos_algorithm_type'],
      qos_algorithm_params: { ...(vbd['qos_algorithm_params'] as object) },
    }),
  );
  linkRef(state.records, 'VM', snapRef, 'VBDs', ref);
  linkRef(state.records, 'VDI', vdiRef, 'VBDs', ref);
}

function copyVif(state: LabState, vif: XapiRecord, snapRef: string): void {
  const fields = structuredClone(vif) as Record<string, unknown>;
  delete fields['uuid'];
  const ref = state.records.add(
    'VIF',
    newVifRecord({ ...fields, VM: snapRef, currently_attached: false, current_operations: {}, runtime_properties: {} }),
  );
  linkRef(state.records, 'VM', snapRef, 'VIFs', ref);
  linkRef(state.records, 'network', vif['network'] as string, 'VIFs', ref);
}
