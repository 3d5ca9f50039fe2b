// The XAPI records a backup's metadata keeps so the VM can be rebuilt anywhere (written by a backup,
// read by a restore): records as XAPI returned them, plus `$ref` (to link VBD → VDI), `$diskKey` on
// disk VDIs and VBDs (the chain on the remote), and `$network` on VIFs, so a restore can map networks
// on another pool.
import type { XapiRef, XapiVbd, XapiVdi, XapiVif, XapiVm } from '../xapi/xapi-records.js';

export type WithRef<T> = T & { $ref: XapiRef };

export interface NetworkDescription {
  uuid: string;
  name_label: string;
  /** VLAN tag of the network's PIFs; -1 when untagged or internal. */
  VLAN: number;
  MTU: number;
}

export interface BackupRecords {
  vm: WithRef<XapiVm>;
  vmSnapshot: WithRef<XapiVm>;
  vbds: Array<WithRef<XapiVbd> & { $diskKey?: string }>;
  vdis: Array<WithRef<XapiVdi> & { $diskKey: string }>;
  vifs: Array<WithRef<XapiVif> & { $network?: NetworkDescription }>;
}
