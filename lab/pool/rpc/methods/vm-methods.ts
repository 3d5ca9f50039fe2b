// VM.* methods beyond the generic ones: snapshot (with the SR_BACKEND_FAILURE_82 fault),
// destroy, create, set_bios_strings, start / shutdown, allowed devices.
import { allowedVbdDevices, allowedVifDevices } from '../../model/device-operations.js';
import { structArg } from '../../model/record-args.js';
import { snapshotVm } from '../../model/vm-snapshot.js';
import { createVm, destroyVm, setBiosStrings, shutdownVm, startVm } from '../../model/vm-operations.js';
import { XapiFailure, fieldTypeError } from '../xapi-failure.js';
import type { MethodRegistry } from '../method-registry.js';

export function registerVmMethods(registry: MethodRegistry): void {
  registry.define('VM.snapshot', {
    params: [2, 3],
    run: ({ state, faults }, [vm, name, ignoreVdis]) => {
      const source = state.records.get('VM', String(vm));
      if (typeof name !== 'string') throw fieldTypeError('new_name');
      if (ignoreVdis !== undefined && !Array.isArray(ignoreVdis)) throw fieldTypeError('ignore_vdis');
      if (source['is_a_snapshot'] === true) throw new XapiFailure('VM_IS_SNAPSHOT', [String(vm)]);
      if (faults.take('snapshotFailure') !== undefined) {
        throw new XapiFailure('SR_BACKEND_FAILURE_82', ['', 'Failed to snapshot VDI', '']);
      }
      return snapshotVm(state, String(vm), { name, ignoreVdis: (ignoreVdis as string[] | undefined) ?? [] });
    },
  });
  registry.define('VM.destroy', { params: 1, run: ({ state }, [vm]) => destroyVm(state, String(vm)) });
  registry.define('VM.create', { params: 1, run: ({ state }, [record]) => createVm(state, structArg(record, 'args')) });
  registry.define('VM.set_bios_strings', { params: 2, run: ({ state }, [vm, value]) => setBiosStrings(state, String(vm), value) });
  registry.define('VM.start', { params: 3, run: ({ state }, [vm]) => startVm(state, String(vm)) });
  registry.define('VM.clean_shutdown', { params: 1, run: ({ state }, [vm]) => shutdownVm(state, String(vm)) });
  registry.define('VM.hard_shutdown', { params: 1, run: ({ state }, [vm]) => shutdownVm(state, String(vm)) });
  registry.define('VM.get_allowed_VBD_devices', {
    params: 1,
    readOnly: true,
    run: ({ state }, [vm]) => allowedVbdDevices(state, String(vm)),
  });
  registry.define('VM.get_allowed_VIF_devices', {
    params: 1,
    readOnly: true,
    run: ({ state }, [vm]) => allowedVifDevices(state, String(vm)),
  });
}
