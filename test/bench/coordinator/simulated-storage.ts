// A simulated storage agent for the coordinator bench: a real gRPC server speaking
// deltachain.storage.v1.StorageService, of which only ListBackups answers — from the backups the
// simulated host agents "committed" (an in-memory remote). The coordinator asks it for every
// backup result it records (StorageBackupLookup), exactly as it asks a real storage agent, so the
// bench pays that round trip; nothing is read or written on disk. It announces itself with a
// storage heartbeat carrying its address, like a real storage agent.
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { NatsConnection } from '@nats-io/transport-node';
import { publishEvent, type NatsNames } from '../../../shared/nats/index.js';
import type { BackupSummary } from '../../../shared/proto/gen/deltachain/storage/v1/backup.js';
import { StorageServiceService, type ListBackupsRequest, type ListBackupsResponse } from '../../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { AgentRole } from '../../../shared/proto/gen/deltachain/tasks/v1/event.js';

/** What the simulated remote holds: VM uuid → its backups, oldest first. */
export class SimulatedRemote {
  readonly byVm = new Map<string, BackupSummary[]>();

  add(summary: BackupSummary): void {
    const list = this.byVm.get(summary.vmUuid) ?? [];
    if (!list.some((b) => b.backupId === summary.backupId)) list.push(summary);
    this.byVm.set(summary.vmUuid, list);
  }

  /** The newest backup of a VM (the chain's tail), if any. */
  newest(vmUuid: string): BackupSummary | undefined {
    return this.byVm.get(vmUuid)?.at(-1);
  }
}

export class SimulatedStorageAgent {
  private server: Server | undefined;
  address = '';
  /** ListBackups calls answered. */
  lookups = 0;

  constructor(readonly remote: string, readonly holds: SimulatedRemote) {}

  async start(nc: NatsConnection, names: NatsNames): Promise<void> {
    const server = new Server();
    const unimplemented = (_call: unknown, callback: sendUnaryData<never>) => callback({ code: status.UNIMPLEMENTED, details: 'the simulated storage agent only lists backups' });
    const handlers: UntypedServiceImplementation = {};
    for (const method of Object.keys(StorageServiceService)) handlers[method] = unimplemented;
    handlers.listBackups = (call: ServerUnaryCall<ListBackupsRequest, ListBackupsResponse>, callback: sendUnaryData<ListBackupsResponse>) => {
      this.lookups++;
      const vm = call.request.vmUuid;
      callback(null, { backups: vm === '' ? [...this.holds.byVm.values()].flat() : (this.holds.byVm.get(vm) ?? []) });
    };
    server.addService(StorageServiceService, handlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    this.server = server;
    this.address = `127.0.0.1:${port}`;
    await publishEvent(nc, names, { role: 'storage', scope: this.remote, agent: `storage-${this.remote}` }, '', {
      $case: 'heartbeat',
      value: { role: AgentRole.AGENT_ROLE_STORAGE, targetId: this.remote, runningTasks: 0, concurrency: 4, version: 'bench', startedAtMs: Date.now(), address: this.address },
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }
}
