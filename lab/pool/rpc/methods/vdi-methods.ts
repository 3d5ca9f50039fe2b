// VDI.* methods: create, destroy, snapshot, clone, pool_migrate, and CBT (enable / disable,
// list_changed_blocks as a base64 bitmap of 64 KiB chunks, data_destroy, get_nbd_info).
import { randomUUID } from 'node:crypto';
import { structArg } from '../../model/record-args.js';
import { createVdi, dataDestroyVdi, destroyVdi, snapshotVdi } from '../../model/vdi-operations.js';
import { poolMigrateVdi } from '../../model/vdi-pool-migrate.js';
import { XapiFailure } from '../xapi-failure.js';
import type { MethodRegistry } from '../method-registry.js';

/** The sm_config key naming a VDI's CBT log (lab SM metadata). */
export const CBT_LOG_KEY = 'cbt_log';

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
  // A VDI's CBT log, as an SM keeps it: switching CBT on starts a new log (its id in sm_config,
  // inherited by snapshots); switching it off deletes the log. Changed blocks exist only between
  // two VDIs of one unbroken log: a snapshot taken before CBT was switched off and on again has
  // none towards the VDI's later snapshots (VDI_NO_CBT_METADATA), as on a real SR.
  registry.define('VDI.enable_cbt', {
    params: 1,
    run: ({ state }, [vdi]) => {
      state.records.update('VDI', String(vdi), (r) => {
        if (r['cbt_enabled'] === true) return;
        r['cbt_enabled'] = true;
        r['sm_config'] = { ...(r['sm_config'] as object), [CBT_LOG_KEY]: randomUUID() };
      });
    },
  });
  registry.define('VDI.disable_cbt', {
    params: 1,
    run: ({ state }, [vdi]) => {
      state.records.update('VDI', String(vdi), (r) => {
        r['cbt_enabled'] = false;
        const { [CBT_LOG_KEY]: _log, ...rest } = r['sm_config'] as Record<string, string>;
        r['sm_config'] = rest;
      });
    },
  });
  registry.define('VDI.pool_migrate', {
    params: 3,
    run: ({ state }, [vdi, sr]) => poolMigrateVdi(state, String(vdi), String(sr)),
  });
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
      const log = (record: Record<string, unknown>) => (record['sm_config'] as Record<string, string> | undefined)?.[CBT_LOG_KEY];
      if (log(base) === undefined || log(base) !== log(target)) throw new XapiFailure('VDI_NO_CBT_METADATA', [String(from)]);
      return state.disks.changedBlockBitmap(base.uuid, target.uuid).toString('base64');
    },
  });
  registry.define('VDI.get_nbd_info', {
    params: 1,
    readOnly: true,
    run: ({ state, nbdInfo, session }, [vdi]) => nbdInfo(state.records.get('VDI', String(vdi)).uuid, session),
  });
}
