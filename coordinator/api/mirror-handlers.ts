// Control API: mirrors — create, list (with how far behind each is), delete, run now. A run queues,
// for every VM the mirror copies, the next backup its target lacks (dispatch/queue-mirror.ts);
// each copy's success queues the next, so one run brings the target up to date.
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { InvalidInputError } from '../../shared/errors.js';
import { UUID_PATTERN } from '../../shared/ids.js';
import type { Queryable } from '../catalogue/index.js';
import { activeMirrorCopies, deleteMirror, getMirrorByName, insertMirror, listMirrors, mirrorCopyKey, mirrorPointsOf, vmsWithBackupsOn, type Mirror } from '../catalogue/mirrors.js';
import { mirrorCopiesVm, queueMirrorCopies } from '../dispatch/queue-mirror.js';
import { mirrorBacklog } from '../planner/index.js';
import { NAME_PATTERN } from '../policy/index.js';
import type { ControlContext } from './control-context.js';

function mirrorInput(ctx: ControlContext, req: wire.CreateMirrorRequest): Omit<Mirror, 'createdAt'> {
  if (!NAME_PATTERN.test(req.name)) throw new InvalidInputError(`"${req.name}" is not a mirror name: lowercase letters, digits, - and _, up to 64, starting with a letter or digit`);
  if (req.sourceRemote === '' || req.targetRemote === '') throw new InvalidInputError('name the remote to copy from (--from) and the remote to copy to (--to)');
  if (req.sourceRemote === req.targetRemote) throw new InvalidInputError(`a mirror copies to another remote: --from and --to are both ${req.sourceRemote}`);
  if (!Number.isInteger(req.retention) || req.retention < 1 || req.retention > 10000) throw new InvalidInputError(`retention must be 1 to 10000 backups per VM on the target (--retention), got ${req.retention}`);
  const vmUuids = req.vmUuids.map((v) => v.toLowerCase());
  const bad = vmUuids.find((v) => !UUID_PATTERN.test(v));
  if (bad !== undefined) throw new InvalidInputError(`"${bad}" is not a VM uuid (--vm)`);
  return { id: ctx.ids.uuid(), name: req.name, sourceRemote: req.sourceRemote, targetRemote: req.targetRemote, vmUuids: [...new Set(vmUuids)], retention: req.retention, enabled: true };
}

/** The VMs a mirror copies now: the ones it names, or every VM with backups on its source. */
async function vmsOf(db: Queryable, mirror: Mirror): Promise<string[]> {
  const onSource = await vmsWithBackupsOn(db, mirror.sourceRemote);
  return onSource.filter((vm) => mirrorCopiesVm(mirror, vm));
}

async function describeMirror(db: Queryable, mirror: Mirror, copying: ReadonlySet<string>): Promise<wire.MirrorInfo> {
  const vms = await vmsOf(db, mirror);
  let behind = 0;
  let lastCopy = 0;
  for (const vm of vms) {
    const [source, target] = await Promise.all([mirrorPointsOf(db, vm, mirror.sourceRemote), mirrorPointsOf(db, vm, mirror.targetRemote)]);
    behind += mirrorBacklog(source, target, mirror.retention).length;
    lastCopy = Math.max(lastCopy, ...target.map((p) => p.takenAt.getTime()));
  }
  return {
    name: mirror.name, sourceRemote: mirror.sourceRemote, targetRemote: mirror.targetRemote, vmUuids: mirror.vmUuids, retention: mirror.retention,
    enabled: mirror.enabled, createdAtMs: mirror.createdAt.getTime(), vms: vms.length, behind,
    copying: vms.filter((vm) => copying.has(mirrorCopyKey(mirror.id, vm))).length, lastCopyAtMs: lastCopy,
  };
}

async function runMirror(ctx: ControlContext, mirror: Mirror): Promise<wire.RunMirrorResponse> {
  const vms = await vmsOf(ctx.sql, mirror);
  const copying = await activeMirrorCopies(ctx.sql);
  const queued = await ctx.sql.begin((tx) => queueMirrorCopies(tx, vms.map((vmUuid) => ({ mirror, vmUuid, runId: null })), ctx.ids, ctx.limits, ctx.clock()));
  if (queued.length > 0) ctx.hooks.tasksQueued();
  const already = vms.filter((vm) => copying.has(mirrorCopyKey(mirror.id, vm))).length;
  return { taskIds: queued.map((t) => t.id), alreadyCopying: already, upToDate: vms.length - queued.length - already };
}

export function mirrorHandlers(ctx: ControlContext) {
  return {
    async createMirror(req: wire.CreateMirrorRequest): Promise<wire.CreateMirrorResponse> {
      const mirror = await insertMirror(ctx.sql, mirrorInput(ctx, req), ctx.clock());
      const taskIds = req.start ? (await runMirror(ctx, mirror)).taskIds : [];
      return { mirror: await describeMirror(ctx.sql, mirror, await activeMirrorCopies(ctx.sql)), taskIds };
    },
    async listMirrors(): Promise<wire.ListMirrorsResponse> {
      const [mirrors, copying] = await Promise.all([listMirrors(ctx.sql), activeMirrorCopies(ctx.sql)]);
      return { mirrors: await Promise.all(mirrors.map((m) => describeMirror(ctx.sql, m, copying))) };
    },
    async deleteMirror(req: wire.DeleteMirrorRequest): Promise<wire.DeleteMirrorResponse> {
      await deleteMirror(ctx.sql, req.name);
      return {};
    },
    async runMirror(req: wire.RunMirrorRequest): Promise<wire.RunMirrorResponse> {
      return runMirror(ctx, await getMirrorByName(ctx.sql, req.name));
    },
  };
}
