// Control API: restore (a backup by id, or a VM as of a date, to a pool and SR) and verify.
// The decision — which backup serves the date — is the planner's resolveRestore. A restore task
// carries the chain digests the catalogue recorded for the backup's disks, for the host agent to
// check the restored disks against.
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import * as catalogue from '../catalogue/index.js';
import { InvalidInputError } from '../../shared/errors.js';
import { resolveRestore } from '../planner/index.js';
import { queueTask } from '../dispatch/queue-task.js';
import type { RestorePayload, VerifyPayload } from '../tasks/index.js';
import type { ControlContext } from './control-context.js';
import { checkVmUuid } from './inventory-handlers.js';
import { backupToWire, taskToWire } from './to-wire.js';
import { UUID_PATTERN } from '../../shared/ids.js';


async function resolveBackup(ctx: ControlContext, what: wire.RestoreRequest['what'], backupRemote: string): Promise<catalogue.BackupListing> {
  if (!what) throw new InvalidInputError('say what to restore: a backup id (--backup) or a VM and a date (--vm and --at)');
  if (what.$case === 'backupId') {
    const backup = await catalogue.getBackup(ctx.sql, what.value, backupRemote === '' ? undefined : backupRemote);
    if (backup.status !== 'committed') throw new InvalidInputError(`backup ${backup.id} is ${backup.status}; pick another from \`deltachain backup list --vm ${backup.vmUuid}\``);
    return (await catalogue.listBackups(ctx.sql, { vmUuid: backup.vmUuid, remote: backup.remoteName })).find((b) => b.id === backup.id)!;
  }
  const vm = checkVmUuid(what.value.vmUuid);
  const remote = what.value.remote === '' ? undefined : what.value.remote;
  const candidates = await catalogue.listBackups(ctx.sql, remote === undefined ? { vmUuid: vm } : { vmUuid: vm, remote });
  const resolved = resolveRestore(candidates.map((b) => ({ id: b.id, vmUuid: b.vmUuid, remote: b.remoteName, takenAt: b.takenAt, status: b.status })), vm, remote, new Date(what.value.atMs));
  if (!resolved.ok) throw new catalogue.NotFoundError(resolved.reason);
  return candidates.find((b) => b.id === resolved.backup.id)!;
}

export function restoreHandlers(ctx: ControlContext) {
  return {
    async restore(req: wire.RestoreRequest): Promise<wire.RestoreResponse> {
      if (!UUID_PATTERN.test(req.srUuid.toLowerCase())) throw new InvalidInputError(`"${req.srUuid}" is not an SR uuid: give the uuid of the SR to restore onto (--sr)`);
      await catalogue.getPool(ctx.sql, req.pool);
      const backup = await resolveBackup(ctx, req.what, req.backupRemote);
      const expectedChainDigests = await catalogue.chainDigestsOf(ctx.sql, backup.remoteName, backup.id);
      const diskKeys = await catalogue.diskKeysOfBackup(ctx.sql, backup.remoteName, backup.id);
      const payload: RestorePayload = { backupId: backup.id, srUuid: req.srUuid.toLowerCase(), name: req.name, expectedChainDigests, diskKeys, ...(req.keepBootConfig === true ? { keepBootConfig: true } : {}) };
      const task = await queueTask(
        ctx.sql,
        { id: ctx.ids.uuid(), kind: 'restore', addressKind: 'pool', address: req.pool, remoteName: backup.remoteName, vmUuid: backup.vmUuid, payload },
        ctx.limits,
        ctx.clock(),
      );
      ctx.hooks.tasksQueued();
      return { task: taskToWire(task), backup: backupToWire(backup) };
    },
    async verify(req: wire.VerifyRequest): Promise<wire.VerifyResponse> {
      if (!req.what) throw new InvalidInputError('say what to verify: a backup id (--backup) or a VM (--vm)');
      const remote = req.remote === '' ? undefined : req.remote;
      const backups =
        req.what.$case === 'backupId'
          ? [await catalogue.getBackup(ctx.sql, req.what.value, remote)]
          : await catalogue.listBackups(ctx.sql, remote === undefined ? { vmUuid: checkVmUuid(req.what.value) } : { vmUuid: checkVmUuid(req.what.value), remote });
      const committed = backups.filter((b) => b.status === 'committed');
      if (committed.length === 0) throw new catalogue.NotFoundError('no committed backup to verify; see `deltachain backup list`');
      const tasks = [];
      for (const backup of committed) {
        const payload: VerifyPayload = { backupId: backup.id };
        const request = { id: ctx.ids.uuid(), kind: 'verify' as const, addressKind: 'remote' as const, address: backup.remoteName, remoteName: backup.remoteName, vmUuid: backup.vmUuid, payload };
        tasks.push(taskToWire(await queueTask(ctx.sql, request, ctx.limits, ctx.clock())));
      }
      ctx.hooks.tasksQueued();
      return { tasks };
    },
  };
}
