// VDI.pool_migrate (storage motion of one disk of a running VM) with XAPI's rules
// (xen-api ocaml/xapi/xapi_vm_migrate.ml `vdi_pool_migrate`, message_forwarding.ml):
// - a cbt_metadata VDI is VDI_INCOMPATIBLE_TYPE; a VDI with CBT enabled is VDI_CBT_ENABLED — CBT
//   must be disabled first, so its log (and every changed-blocks answer across the move) is gone;
// - the VDI must be attached to a running VM (VDI_NEEDS_VM_FOR_MIGRATE);
// - the result is a new VDI on the target SR with a new ref and uuid, the VM's VBD now points at
//   it and the old VDI is destroyed. The old VDI's snapshots now name the new VDI (`snapshot_of`)
//   but stay on their SR (real XAPI copies a VM's snapshot disks only in VM.migrate_send).
import { newVdiRecord } from '../records/record-defaults.js';
import { newRef } from '../records/record-store.js';
import { XapiFailure } from '../rpc/xapi-failure.js';
import type { LabState } from '../state/lab-state.js';
import { linkRef, unlinkRef } from './relations.js';
import { refreshSrUtilisation, refreshUtilisation } from './vdi-operations.js';

/** Copied onto the new VDI; everything else takes the defaults of a new VDI. */
const KEPT_FIELDS = ['name_label', 'name_description', 'virtual_size', 'type', 'sharable', 'read_only', 'other_config', 'xenstore_data', 'tags', 'on_boot', 'allow_caching'] as const;

export async function poolMigrateVdi(state: LabState, vdiRef: string, srRef: string): Promise<string> {
  const { records } = state;
  const vdi = records.get('VDI', vdiRef);
  const targetSr = records.get('SR', srRef);
  if (vdi['type'] === 'cbt_metadata') throw new XapiFailure('VDI_INCOMPATIBLE_TYPE', [vdiRef, 'cbt_metadata']);
  if (vdi['cbt_enabled'] === true) throw new XapiFailure('VDI_CBT_ENABLED', [vdiRef]);
  const vbdRefs = (vdi['VBDs'] as string[]).filter((vbd) => records.find('VBD', vbd)?.['currently_attached'] === true);
  if (vbdRefs.length === 0) throw new XapiFailure('VDI_NEEDS_VM_FOR_MIGRATE', [vdiRef]);
  if (vdi['SR'] === srRef) return vdiRef;
  if (Object.keys(vdi['current_operations'] as object).length > 0 || state.disks.isWriting(vdi.uuid)) {
    throw new XapiFailure('OTHER_OPERATION_IN_PROGRESS', ['VDI', vdiRef]);
  }

  const kept = Object.fromEntries(KEPT_FIELDS.filter((f) => f in vdi).map((f) => [f, structuredClone(vdi[f])]));
  // CBT is off (checked above), so sm_config holds no CBT log to carry over.
  const record = newVdiRecord({ ...kept, SR: srRef, sm_config: { ...(vdi['sm_config'] as object) }, cbt_enabled: false });
  record['location'] = record.uuid;
  await state.disks.copyToSr(vdi.uuid, targetSr.uuid, record.uuid);
  const newVdiRef = records.add('VDI', record, newRef());
  linkRef(records, 'SR', srRef, 'VDIs', newVdiRef);
  refreshUtilisation(state, newVdiRef);

  for (const vbd of vdi['VBDs'] as string[]) {
    if (!records.has('VBD', vbd)) continue;
    records.update('VBD', vbd, (r) => (r['VDI'] = newVdiRef));
    linkRef(records, 'VDI', newVdiRef, 'VBDs', vbd);
  }
  for (const snapshot of vdi['snapshots'] as string[]) {
    if (!records.has('VDI', snapshot)) continue;
    records.update('VDI', snapshot, (r) => (r['snapshot_of'] = newVdiRef));
    linkRef(records, 'VDI', newVdiRef, 'snapshots', snapshot);
  }
  unlinkRef(records, 'SR', vdi['SR'] as string, 'VDIs', vdiRef);
  records.delete('VDI', vdiRef);
  await state.disks.destroy(vdi.uuid);
  refreshSrUtilisation(state, vdi['SR'] as string);
  return newVdiRef;
}
