// VBD.* and VIF.* lifecycle methods (create / destroy); getters come from class-methods.ts.
import { createVbd, createVif, destroyVbd, destroyVif } from '../../model/device-operations.js';
import { structArg } from '../../model/record-args.js';
import type { MethodRegistry } from '../method-registry.js';

export function registerDeviceMethods(registry: MethodRegistry): void {
  registry.define('VBD.create', { params: 1, run: ({ state }, [record]) => createVbd(state, structArg(record, 'args')) });
  registry.define('VBD.destroy', { params: 1, run: ({ state }, [vbd]) => destroyVbd(state, String(vbd)) });
  registry.define('VIF.create', { params: 1, run: ({ state }, [record]) => createVif(state, structArg(record, 'args')) });
  registry.define('VIF.destroy', { params: 1, run: ({ state }, [vif]) => destroyVif(state, String(vif)) });
}
