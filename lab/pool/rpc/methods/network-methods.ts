// network.add_purpose / remove_purpose, as XAPI: the purposes are `nbd` and `insecure_nbd`, and a
// pool may not hold both (NETWORK_INCOMPATIBLE_PURPOSES), since one says TLS is required and the
// other that it is not. The NBD server reads the purposes at each connection (nbd/nbd-network.ts).
import { NETWORK_PURPOSES, purposesOf } from '../../nbd/nbd-network.js';
import type { MethodRegistry } from '../method-registry.js';
import { XapiFailure } from '../xapi-failure.js';

export function registerNetworkMethods(registry: MethodRegistry): void {
  registry.define('network.add_purpose', {
    params: 2,
    run: ({ state }, [network, value]) => {
      const purpose = String(value);
      if (!(NETWORK_PURPOSES as readonly string[]).includes(purpose)) throw new XapiFailure('INVALID_VALUE', ['purpose', purpose]);
      state.records.get('network', String(network));
      for (const [ref, other] of state.records.entries('network')) {
        const clash = purposesOf(other).find((existing) => existing !== purpose && (NETWORK_PURPOSES as readonly string[]).includes(existing));
        if (clash !== undefined) throw new XapiFailure('NETWORK_INCOMPATIBLE_PURPOSES', [ref, clash, purpose]);
      }
      state.records.update('network', String(network), (r) => {
        if (!purposesOf(r).includes(purpose)) r['purpose'] = [...purposesOf(r), purpose];
      });
    },
  });
  registry.define('network.remove_purpose', {
    params: 2,
    run: ({ state }, [network, value]) => {
      state.records.update('network', String(network), (r) => (r['purpose'] = purposesOf(r).filter((existing) => existing !== String(value))));
    },
  });
}
