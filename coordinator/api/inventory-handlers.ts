// Control API: pools, remotes (add, edit, list, scan), agents, VMs and backups. A remote's
// address is what an operator registers here; tasks use nothing else.
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import * as catalogue from '../catalogue/index.js';
import { InvalidInputError } from '../../shared/errors.js';
import { NAME_PATTERN } from '../policy/index.js';
import { queueTask } from '../dispatch/queue-task.js';
import type { ScanPayload } from '../tasks/index.js';
import type { ControlContext } from './control-context.js';
import { agentToWire, backupToWire, poolToWire, remoteToWire, taskToWire, vmToWire } from './to-wire.js';
import { UUID_PATTERN } from '../../shared/ids.js';


function checkName(what: string, name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new InvalidInputError(`${what} name "${name}" is not allowed: use 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit`);
  }
}

/** A storage agent's gRPC address as an operator registers it: "host:port", port 1–65535. */
export function checkStorageAddress(address: string): string {
  const match = /^([^\s/]+):(\d{1,5})$/.exec(address);
  const port = Number(match?.[2] ?? 0);
  if (!match || port < 1 || port > 65535) throw new InvalidInputError(`storage address "${address}" is not host:port (e.g. nas1.example.net:50051): give the address the storage agent's gRPC server is reached at`);
  return address;
}

export function checkVmUuid(uuid: string): string {
  const lower = uuid.toLowerCase();
  if (!UUID_PATTERN.test(lower)) throw new InvalidInputError(`"${uuid}" is not a VM uuid (expected like 0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10)`);
  return lower;
}

export function inventoryHandlers(ctx: ControlContext) {
  return {
    async addPool(req: wire.AddPoolRequest): Promise<wire.AddPoolResponse> {
      checkName('pool', req.name);
      await catalogue.addPool(ctx.sql, req);
      await ctx.hooks.registered?.('host', req.name);
      return { pool: poolToWire(await catalogue.getPool(ctx.sql, req.name)) };
    },
    async listPools(): Promise<wire.ListPoolsResponse> {
      return { pools: (await catalogue.listPools(ctx.sql)).map(poolToWire) };
    },
    async addRemote(req: wire.AddRemoteRequest): Promise<wire.AddRemoteResponse> {
      checkName('remote', req.name);
      if (req.address !== '') checkStorageAddress(req.address);
      await catalogue.addRemote(ctx.sql, req);
      await ctx.hooks.registered?.('storage', req.name);
      return { remote: remoteToWire(await catalogue.getRemote(ctx.sql, req.name)) };
    },
    async editRemote(req: wire.EditRemoteRequest): Promise<wire.EditRemoteResponse> {
      if (req.address !== undefined) checkStorageAddress(req.address);
      const { name, ...changes } = req;
      await catalogue.editRemote(ctx.sql, name, changes);
      return { remote: remoteToWire(await catalogue.getRemote(ctx.sql, name)) };
    },
    async listRemotes(): Promise<wire.ListRemotesResponse> {
      return { remotes: (await catalogue.listRemotes(ctx.sql)).map(remoteToWire) };
    },
    async scanRemote(req: wire.ScanRemoteRequest): Promise<wire.ScanRemoteResponse> {
      await catalogue.getRemote(ctx.sql, req.name);
      if (req.accept) {
        const accepted = await catalogue.acceptUnverified(ctx.sql, req.name);
        return { acceptedBackupIds: accepted };
      }
      const payload: ScanPayload = { removeGarbage: req.removeGarbage, graceSeconds: req.graceSeconds };
      const task = await queueTask(
        ctx.sql,
        { id: ctx.ids.uuid(), kind: 'scan', addressKind: 'remote', address: req.name, remoteName: req.name, vmUuid: null, payload },
        ctx.limits,
        ctx.clock(),
      );
      ctx.hooks.tasksQueued();
      return { task: taskToWire(task), acceptedBackupIds: [] };
    },
    async listAgents(): Promise<wire.ListAgentsResponse> {
      return { agents: (await catalogue.listAgents(ctx.sql)).map(agentToWire), nowMs: ctx.clock().getTime() };
    },
    async listVms(req: wire.ListVmsRequest): Promise<wire.ListVmsResponse> {
      const vms = await catalogue.listVms(ctx.sql, req.pool === '' ? {} : { pool: req.pool });
      return { vms: vms.map(vmToWire) };
    },
    async listBackups(req: wire.ListBackupsRequest): Promise<wire.ListBackupsResponse> {
      const filter: catalogue.BackupFilter = { all: req.all };
      if (req.vmUuid !== '') filter.vmUuid = checkVmUuid(req.vmUuid);
      if (req.remote !== '') filter.remote = req.remote;
      return { backups: (await catalogue.listBackups(ctx.sql, filter)).map(backupToWire) };
    },
  };
}
