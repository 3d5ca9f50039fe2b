// Whether the pool serves NBD and how, from its networks' `purpose` as XAPI decides it: a network
// with purpose `nbd` means NBD with TLS required, `insecure_nbd` plaintext; none, no NBD (and
// VDI.get_nbd_info returns []). XAPI refuses to have both kinds in one pool
// (NETWORK_INCOMPATIBLE_PURPOSES), so at most one mode holds.
import type { RecordStore } from '../records/record-store.js';

export const NETWORK_PURPOSES = ['nbd', 'insecure_nbd'] as const;
export type NetworkPurpose = (typeof NETWORK_PURPOSES)[number];

export type NbdMode = 'tls' | 'plaintext' | 'off';

export function purposesOf(network: Record<string, unknown>): string[] {
  return Array.isArray(network['purpose']) ? (network['purpose'] as string[]) : [];
}

export function nbdMode(records: RecordStore): NbdMode {
  const purposes = new Set(records.entries('network').flatMap(([, network]) => purposesOf(network)));
  if (purposes.has('nbd')) return 'tls';
  if (purposes.has('insecure_nbd')) return 'plaintext';
  return 'off';
}
