// The fields of XAPI records the host agent reads (names as XAPI spells them). Records travel
// as plain JSON: the backup's metadata stores them as XAPI gave them, and a restore feeds them
// back to `VM.create` & co., so every other field is kept (`[field: string]: unknown`).

export type XapiRef = string;
export const NULL_REF: XapiRef = 'OpaqueRef:NULL';

export type OtherConfig = Record<string, string>;

export interface XapiVm {
  uuid: string;
  name_label: string;
  name_description: string;
  power_state: string;
  is_a_snapshot: boolean;
  is_a_template: boolean;
  is_control_domain?: boolean;
  snapshot_of: XapiRef;
  snapshot_time: string;
  snapshots: XapiRef[];
  other_config: OtherConfig;
  VBDs: XapiRef[];
  VIFs: XapiRef[];
  bios_strings: Record<string, string>;
  blocked_operations: Record<string, string>;
  [field: string]: unknown;
}

export interface XapiVbd {
  uuid: string;
  VM: XapiRef;
  VDI: XapiRef;
  type: string;
  userdevice: string;
  bootable: boolean;
  mode: string;
  empty: boolean;
  other_config: OtherConfig;
  [field: string]: unknown;
}

export interface XapiVdi {
  uuid: string;
  name_label: string;
  name_description: string;
  virtual_size: number;
  type: string;
  SR: XapiRef;
  sharable: boolean;
  read_only: boolean;
  managed: boolean;
  is_a_snapshot: boolean;
  snapshot_of: XapiRef;
  snapshot_time: string;
  other_config: OtherConfig;
  VBDs: XapiRef[];
  [field: string]: unknown;
}

export interface XapiVif {
  uuid: string;
  device: string;
  network: XapiRef;
  VM: XapiRef;
  MAC: string;
  MTU: number;
  other_config: OtherConfig;
  [field: string]: unknown;
}

export interface XapiNetwork {
  uuid: string;
  name_label: string;
  PIFs: XapiRef[];
  other_config: OtherConfig;
  [field: string]: unknown;
}

export interface XapiPif {
  uuid: string;
  network: XapiRef;
  VLAN: number;
  [field: string]: unknown;
}

export interface XapiSr {
  uuid: string;
  name_label: string;
  VDIs: XapiRef[];
  [field: string]: unknown;
}
