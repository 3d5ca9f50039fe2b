// VDI.* methods: create, destroy, snapshot, clone, and CBT (enable / disable,
// list_changed_blocks as a base64 bitmap of 64 KiB chunks, data_destroy, get_nbd_info).
import { structArg } from '../../model/record-args.js';
import { createVdi, dataDestroyVdi, destroyVdi, snapshotVdi } from '../../model/vdi-operations.js';
import { XapiFailure } from '../xapi-failure.js';
import type { MethodRegistry } from '../method-registry.js';

export function registerVdiMethods(registry: MethodRegistry): void {
  registry.define('VDI.create', { params: 1, run: ({ state }, [record]) => createVdi(state, structArg(record, 'args')) });
  registry.define('VDI.destroy', { params: 1, run: ({ state }, [vdi]) => destroyVdi(state, String(vdi)) });
  registry.define('VDI.snapshot', {
    params: [1, 2],
    run: ({ state }, [vdi]) => snapshotVdi(state, String(vdi), { date: new Date() }),
  });
  registry.define('VDI.clone', {
    params: [1, 2],
    run: ({ state }, [vdi]) => snapshotVdi(state, String(vdi), { date: new Date(), isSnapshot: false }),
  });
  for (const [method, enabled] of [['VDI.enable_cbt', true], ['VDI.disable_cbt', false]] as const) {
    registry.define(method, {
      params: 1,
      run: ({ state }, [vdi]) => {
        state.records.update('VDI', String(vdi), (r) => (r['cbt_enabled'] = enabled));
      },
    });
  }
  registry.define('VDI.data_destroy', { params: 1, run: ({ state }, [vdi]) => dataDestroyVdi(state, String(vdi)) });
  registry.define('VDI.list_changed_blocks', {
    params: 2,
    readOnly: true,
    run: ({ state, faults }, [from, to]) => {
      const base = state.records.get('VDI', String(from));
      const target = state.records.get('VDI', String(to));
      if (faults.take('cbtLost', base.uuid) ?? faults.take('cbtLost', target.uuid)) throw new XapiFailure('VDI_NO_CBT_METADATA', [String(from)]);
      if (base['cbt_enabled'] !== true) throw new XapiFailure('VDI_NO_CBT_METADATA', [String(from)]);
      if (target['cbt_enabled'] !== true) throw new XapiFailure('VDI_NO_CBT_METADATA', [String(to)]);
      return state.disks.changedBlockBitmap(base.uuid, target.uuid).toString('base64');
    },
  });
  registry.define('VDI.get_nbd_info', {
    params: 1,
    readOnly: true,
    run: ({ state, nbdInfo, session }, [vdi]) => nbdInfo(state.records.get('VDI', String(vdi)).uuid, session),
  });
}
