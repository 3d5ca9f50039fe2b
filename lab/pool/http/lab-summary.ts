// A compact view of the lab for people and scripts (`GET /lab/state`, `deltachain-lab pool`'s banner):
// each VM with its disks, and its snapshots; each SR with the bytes its snapshots hold.
import { snapshotDataReport, type SrUsage } from '../model/sr-usage.js';
import type { LabState } from '../state/lab-state.js';

export interface LabSummary {
  pool: { uuid: string; name: string };
  vms: VmSummary[];
  srs: SrUsage[];
  /** Snapshot data over all SRs, bytes (see model/sr-usage.ts). */
  snapshotDataBytes: number;
  /** Disk bytes served since the lab started, by export_raw_vdi and by NBD reads. */
  served: { export: number; nbd: number };
}

export interface VmSummary {
  uuid: string;
  name: string;
  powerState: string;
  isSnapshot: boolean;
  snapshotOf?: string;
  disks: { vdi: string; name: string; virtualSize: number; physicalUtilisation: number; userdevice: string }[];
}

export function labSummary(state: LabState): LabSummary {
  const { records } = state;
  const pool = records.get('pool', state.poolRef);
  const vms = records.entries('VM').map(([, vm]): VmSummary => {
    const disks = (vm['VBDs'] as string[])
      .map((ref) => records.find('VBD', ref))
      .filter((vbd) => vbd !== undefined && vbd['type'] === 'Disk' && records.has('VDI', vbd['VDI'] as string))
      .map((vbd) => {
        const vdi = records.get('VDI', vbd!['VDI'] as string);
        return {
          vdi: vdi.uuid,
          name: vdi['name_label'] as string,
          virtualSize: vdi['virtual_size'] as number,
          physicalUtilisation: vdi['physical_utilisation'] as number,
          userdevice: vbd!['userdevice'] as string,
        };
      });
    const source = records.find('VM', vm['snapshot_of'] as string);
    return {
      uuid: vm.uuid,
      name: vm['name_label'] as string,
      powerState: vm['power_state'] as string,
      isSnapshot: vm['is_a_snapshot'] === true,
      ...(source === undefined ? {} : { snapshotOf: source.uuid }),
      disks,
    };
  });
  return { pool: { uuid: pool.uuid, name: pool['name_label'] as string }, vms, ...snapshotDataReport(records), served: { ...state.served } };
}
