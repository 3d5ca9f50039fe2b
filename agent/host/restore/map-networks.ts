// Which network of the target pool a recorded VIF goes on: the same network (by uuid) when the
// restore runs on the original pool; elsewhere the network with the same VLAN and name, then the
// same name, then the same VLAN. No match leaves the VIF out (the restore says so). Pure.
import type { NetworkDescription } from '../metadata/backup-records.js';
import type { XapiRef } from '../xapi/xapi-records.js';

export interface TargetNetwork {
  ref: XapiRef;
  uuid: string;
  name_label: string;
  VLAN: number;
}

export interface NetworkChoice {
  network: TargetNetwork | undefined;
  how: 'uuid' | 'vlan-and-name' | 'name' | 'vlan' | 'none';
}

export function chooseNetwork(recorded: NetworkDescription | undefined, targets: readonly TargetNetwork[]): NetworkChoice {
  if (recorded === undefined) return { network: undefined, how: 'none' };
  const byUuid = targets.find((t) => t.uuid === recorded.uuid);
  if (byUuid !== undefined) return { network: byUuid, how: 'uuid' };
  const both = targets.find((t) => t.VLAN === recorded.VLAN && t.name_label === recorded.name_label);
  if (both !== undefined) return { network: both, how: 'vlan-and-name' };
  const byName = targets.filter((t) => t.name_label === recorded.name_label);
  if (byName.length === 1) return { network: byName[0], how: 'name' };
  const byVlan = recorded.VLAN >= 0 ? targets.filter((t) => t.VLAN === recorded.VLAN) : [];
  if (byVlan.length === 1) return { network: byVlan[0], how: 'vlan' };
  return { network: undefined, how: 'none' };
}
