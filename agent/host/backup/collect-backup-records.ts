// Collects the XAPI records a backup's metadata keeps so the VM can be rebuilt anywhere
// (metadata/backup-records.ts): the live VM, its snapshot, the snapshot's VBDs, its disk VDIs, its
// VIFs, each VIF with its network's uuid, name, VLAN and MTU.
import type { HostXapi } from '../xapi/host-xapi.js';
import type { BackupRecords, NetworkDescription } from '../metadata/backup-records.js';
import { NULL_REF, type XapiNetwork, type XapiPif, type XapiRef, type XapiVbd, type XapiVdi, type XapiVif, type XapiVm } from '../xapi/xapi-records.js';
import { ignoreGone } from './pool-snapshots.js';

export async function collectBackupRecords(
  xapi: HostXapi,
  live: { ref: XapiRef; record: XapiVm },
  snapshotRef: XapiRef,
  diskKeyBySnapshotVdi: ReadonlyMap<XapiRef, string>,
): Promise<BackupRecords> {
  const snapshot = await xapi.getRecord<XapiVm>('VM', snapshotRef);
  const records: BackupRecords = {
    vm: { ...live.record, $ref: live.ref },
    vmSnapshot: { ...snapshot, $ref: snapshotRef },
    vbds: [],
    vdis: [],
    vifs: [],
  };
  for (const vbdRef of snapshot.VBDs) {
    const vbd = await xapi.getRecord<XapiVbd>('VBD', vbdRef);
    const diskKey = vbd.VDI === NULL_REF ? undefined : diskKeyBySnapshotVdi.get(vbd.VDI);
    records.vbds.push({ ...vbd, $ref: vbdRef, ...(diskKey === undefined ? {} : { $diskKey: diskKey }) });
    if (diskKey !== undefined) {
      const vdi = await xapi.getRecord<XapiVdi>('VDI', vbd.VDI);
      records.vdis.push({ ...vdi, $ref: vbd.VDI, $diskKey: diskKey });
    }
  }
  for (const vifRef of snapshot.VIFs) {
    const vif = await xapi.getRecord<XapiVif>('VIF', vifRef);
    const network = await describeNetwork(xapi, vif.network);
    records.vifs.push({ ...vif, $ref: vifRef, ...(network === undefined ? {} : { $network: network }) });
  }
  return records;
}

async function describeNetwork(xapi: HostXapi, ref: XapiRef): Promise<NetworkDescription | undefined> {
  if (ref === NULL_REF) return undefined;
  const network = await xapi.getRecord<XapiNetwork>('network', ref).catch(ignoreGone);
  if (network === undefined) return undefined;
  let vlan = -1;
  for (const pifRef of network.PIFs) {
    // Informational only: a pool (or the lab) that cannot show the PIF leaves the VLAN unknown.
    const pif = await xapi.getRecord<XapiPif>('PIF', pifRef).catch(() => undefined);
    if (pif !== undefined) {
      vlan = Number(pif.VLAN);
      break;
    }
  }
  return { uuid: network.uuid, name_label: network.name_label, VLAN: vlan, MTU: Number(network.MTU ?? 1500) };
}
