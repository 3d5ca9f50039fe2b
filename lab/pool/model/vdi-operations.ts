// VDI lifecycle with XAPI's rules: create (disk first, then record), snapshot (a copy-on-write
// clone of the disk, `is_a_snapshot`, `snapshot_of`, copied name/type/other_config/tags,
// inherited `cbt_enabled`), destroy (VDI_IN_USE while attached; removes its VBDs; the disk last),
// and CBT's data_destroy (the snapshot becomes `cbt_metadata`: no data, still a CBT base).
import { LIMITS } from '../../../shared/vhd/format/index.js';
import { newVdiRecord } from '../records/record-defaults.js';
import { NULL_REF, newRef, type XapiRecord } from '../records/record-store.js';
import { xapiTime } from '../records/xapi-time.js';
import { XapiFailure, operationNotAllowed } from '../rpc/xapi-failure.js';
import type { LabState } from '../state/lab-state.js';
import { boolField, enumField, intField, mapField, refField, stringField, stringListField, type Args } from './record-args.js';
import { linkRef, unlinkRef } from './relations.js';

export const VDI_TYPES = ['system', 'user', 'ephemeral', 'suspend', 'crashdump', 'ha_statefile', 'metadata', 'redo_log', 'rrd', 'pvs_cache', 'cbt_metadata'] as const;

/** VDI.create: `args` is the record the client sent. */
export async function createVdi(state: LabState, args: Args): Promise<string> {
  const { records } = state;
  const srRef = refField(records, args, 'SR', 'SR');
  let virtualSize = intField(args, 'virtual_size');
  if (virtualSize <= 0) throw new XapiFailure('INVALID_VALUE', ['virtual_size', String(virtualSize)]);
  if (virtualSize > LIMITS.maxVirtualSize) throw new XapiFailure('VDI_TOO_LARGE', [srRef, String(LIMITS.maxVirtualSize)]);
  virtualSize = Math.ceil(virtualSize / 512) * 512;
  const record = newVdiRecord({
    name_label: stringField(args, 'name_label', ''),
    name_description: stringField(args, 'name_description', ''),
    SR: srRef,
    virtual_size: virtualSize,
    type: enumField(args, 'type', VDI_TYPES, 'user'),
    sharable: boolField(args, 'sharable', false),
    read_only: boolField(args, 'read_only', false),
    other_config: mapField(args, 'other_config', {}),
    xenstore_data: mapField(args, 'xenstore_data', {}),
    sm_config: { vdi_type: 'vhd', ...mapField(args, 'sm_config', {}) },
    tags: stringListField(args, 'tags', []),
  });
  record['location'] = record.uuid;
  return addVdi(state, record);
}

/** Records a VDI whose disk exists (or creates an empty one of its size). */
async function addVdi(state: LabState, record: XapiRecord, cloneOf?: string): Promise<string> {
  const sr = state.records.get('SR', record['SR'] as string);
  if (cloneOf === undefined) await state.disks.create(sr.uuid, record.uuid, record['virtual_size'] as number);
  else await state.disks.clone(cloneOf, record.uuid);
  const ref = state.records.add('VDI', record, newRef());
  linkRef(state.records, 'SR', record['SR'] as string, 'VDIs', ref);
  refreshUtilisation(state, ref);
  return ref;
}

export interface SnapshotVdiOptions {
  /** Snapshot time (shared by all disks of a VM snapshot). */
  date: Date;
  /** False for VDI.clone: a new independent disk. */
  isSnapshot?: boolean;
}

/** VDI.snapshot / VDI.clone: a copy-on-write copy of `vdiRef`. */
export async function snapshotVdi(state: LabState, vdiRef: string, options: SnapshotVdiOptions): Promise<string> {
  const source = state.records.get('VDI', vdiRef);
  assertHasData(source, vdiRef);
  const isSnapshot = options.isSnapshot ?? true;
  const record = newVdiRecord({
    name_label: source['name_label'],
    name_description: source['name_description'],
    SR: source['SR'],
    virtual_size: source['virtual_size'],
    type: source['type'],
    sharable: source['sharable'],
    read_only: source['read_only'],
    other_config: { ...(source['other_config'] as object) },
    xenstore_data: { ...(source['xenstore_data'] as object) },
    sm_config: { ...(source['sm_config'] as object) },
    tags: [...(source['tags'] as string[])],
    cbt_enabled: source['cbt_enabled'],
    is_a_snapshot: isSnapshot,
    snapshot_of: isSnapshot ? vdiRef : NULL_REF,
    snapshot_time: isSnapshot ? xapiTime(options.date) : source['snapshot_time'],
  });
  record['location'] = record.uuid;
  const ref = await addVdi(state, record, source.uuid);
  if (isSnapshot) linkRef(state.records, 'VDI', vdiRef, 'snapshots', ref);
  return ref;
}

/** VDI.destroy. */
export async function destroyVdi(state: LabState, vdiRef: string): Promise<void> {
  const { records } = state;
  const vdi = records.get('VDI', vdiRef);
  const vbds = vdi['VBDs'] as string[];
  if (vbds.some((vbd) => records.find('VBD', vbd)?.['currently_attached'] === true)) {
    throw new XapiFailure('VDI_IN_USE', [vdiRef, 'destroy']);
  }
  if (Object.keys(vdi['current_operations'] as object).length > 0 || state.disks.isWriting(vdi.uuid)) {
    throw new XapiFailure('OTHER_OPERATION_IN_PROGRESS', ['VDI', vdiRef]);
  }
  for (const vbd of vbds) {
    if (!records.has('VBD', vbd)) continue;
    unlinkRef(records, 'VM', records.get('VBD', vbd)['VM'] as string, 'VBDs', vbd);
    records.delete('VBD', vbd);
  }
  unlinkRef(records, 'SR', vdi['SR'] as string, 'VDIs', vdiRef);
  unlinkRef(records, 'VDI', vdi['snapshot_of'] as string, 'snapshots', vdiRef);
  records.delete('VDI', vdiRef);
  if (state.disks.has(vdi.uuid)) await state.disks.destroy(vdi.uuid);
  refreshSrUtilisation(state, vdi['SR'] as string);
}

/** VDI.data_destroy: only for CBT-enabled snapshots; keeps what CBT needs. */
export async function dataDestroyVdi(state: LabState, vdiRef: string): Promise<void> {
  const vdi = state.records.get('VDI', vdiRef);
  if (vdi['cbt_enabled'] !== true) throw new XapiFailure('VDI_NO_CBT_METADATA', [vdiRef]);
  if (vdi['is_a_snapshot'] !== true) throw operationNotAllowed('VDI.data_destroy is only allowed on snapshots');
  if ((vdi['VBDs'] as string[]).some((vbd) => state.records.find('VBD', vbd)?.['currently_attached'] === true)) {
    throw new XapiFailure('VDI_IN_USE', [vdiRef, 'data_destroy']);
  }
  if (vdi['type'] === 'cbt_metadata') return;
  if (state.disks.isWriting(vdi.uuid)) throw new XapiFailure('OTHER_OPERATION_IN_PROGRESS', ['VDI', vdiRef]);
  await state.disks.dataDestroy(vdi.uuid);
  state.records.update('VDI', vdiRef, (record) => {
    record['type'] = 'cbt_metadata';
    record['physical_utilisation'] = 0;
  });
  refreshSrUtilisation(state, vdi['SR'] as string);
}

/**
 * Sets a VDI's physical_utilisation from its disk's allocated blocks (blocks shared with its
 * snapshots or its parent count for each VDI, as each VHD of a chain reports its own size), then
 * its SR's (after creates, snapshots, writes and imports).
 */
export function refreshUtilisation(state: LabState, vdiRef: string): void {
  const vdi = state.records.find('VDI', vdiRef);
  if (vdi === undefined || !state.disks.has(vdi.uuid)) return;
  const used = state.disks.stats(vdi.uuid).allocatedBlocks * state.disks.blockSize;
  if (vdi['physical_utilisation'] !== used) state.records.update('VDI', vdiRef, (r) => (r['physical_utilisation'] = used));
  refreshSrUtilisation(state, vdi['SR'] as string);
}

/**
 * SR.physical_utilisation: the bytes its store really holds (each shared block once);
 * SR.virtual_allocation: the sum of its VDIs' virtual sizes. A real SR updates these on scan;
 * the lab keeps them current after every change so a reader never sees a stale value.
 */
export function refreshSrUtilisation(state: LabState, srRef: string): void {
  const sr = state.records.find('SR', srRef);
  if (sr === undefined) return;
  const physical = state.disks.usedSlots(sr.uuid) * state.disks.blockSize;
  const virtual = (sr['VDIs'] as string[]).reduce((sum, ref) => sum + ((state.records.find('VDI', ref)?.['virtual_size'] as number | undefined) ?? 0), 0);
  if (sr['physical_utilisation'] === physical && sr['virtual_allocation'] === virtual) return;
  state.records.update('SR', srRef, (r) => {
    r['physical_utilisation'] = physical;
    r['virtual_allocation'] = virtual;
  });
}

export function assertHasData(vdi: XapiRecord, vdiRef: string): void {
  if (vdi['type'] === 'cbt_metadata') throw new XapiFailure('VDI_INCOMPATIBLE_TYPE', [vdiRef, 'cbt_metadata']);
}

/** A VDI given by ref or uuid (HTTP handlers accept both). */
export function vdiRefOf(state: LabState, refOrUuid: string): string {
  if (refOrUuid.startsWith('OpaqueRef:')) {
    state.records.get('VDI', refOrUuid);
    return refOrUuid;
  }
  return state.records.refByUuidOf('VDI', refOrUuid);
}
