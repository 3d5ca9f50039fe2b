// What an administrator does behind a backup tool's back (a fault to survive): deleting a
// snapshot — a snapshot VM with its snapshot disks, or a single snapshot VDI.
import { XapiFailure } from '../rpc/xapi-failure.js';
import type { LabState } from '../state/lab-state.js';
import { destroyVdi } from './vdi-operations.js';
import { destroyVm } from './vm-operations.js';

export interface DeletedSnapshot {
  vm?: string;
  vdis: string[];
}

export async function adminDeleteSnapshot(state: LabState, uuid: string): Promise<DeletedSnapshot> {
  const { records } = state;
  const vmRef = records.findByUuid('VM', uuid);
  if (vmRef !== undefined) {
    const vm = records.get('VM', vmRef);
    if (vm['is_a_snapshot'] !== true) throw new XapiFailure('OPERATION_NOT_ALLOWED', [`VM ${uuid} is not a snapshot`]);
    const vdiRefs = (vm['VBDs'] as string[])
      .map((vbd) => records.get('VBD', vbd))
      .filter((vbd) => vbd['type'] === 'Disk' && records.find('VDI', vbd['VDI'] as string)?.['is_a_snapshot'] === true)
      .map((vbd) => vbd['VDI'] as string);
    const vdis = vdiRefs.map((ref) => records.get('VDI', ref).uuid);
    destroyVm(state, vmRef);
    for (const ref of vdiRefs) await destroyVdi(state, ref);
    return { vm: uuid, vdis };
  }
  const vdiRef = records.findByUuid('VDI', uuid);
  if (vdiRef === undefined) throw new XapiFailure('UUID_INVALID', ['VM', uuid]);
  if (records.get('VDI', vdiRef)['is_a_snapshot'] !== true) throw new XapiFailure('OPERATION_NOT_ALLOWED', [`VDI ${uuid} is not a snapshot`]);
  await destroyVdi(state, vdiRef);
  return { vdis: [uuid] };
}
