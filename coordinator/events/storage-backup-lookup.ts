// Finds a committed backup's facts by asking the remote's storage agent (ListBackups over its
// gRPC data plane). Used when a backup task's result does not carry the backup's summary: the
// coordinator then checks the commit with the remote itself before recording anything.
// One gRPC client per storage agent (remote and address) is kept for the process's life (a new
// channel per result cost a connection per backup recorded); close() releases them. The storage
// agent must show a certificate naming its remote (`credentialsFor`).
// A batch of results (findBackups) reads each remote's storage address once and asks for each VM
// once, all at the same time. ListBackups answers for one VM or for the whole remote: one call
// per batch would list every backup of every VM there (10k VMs × retention), so it stays one
// call per VM of the batch.
import type { ChannelCredentials } from '@grpc/grpc-js';
import { DeltachainError } from '../../shared/errors.js';
import { StorageClient } from '../../shared/grpc/storage-client.js';
import type { BackupSummary } from '../../shared/proto/gen/deltachain/storage/v1/backup.js';
import type { BackupFacts, Catalogue, TaskRecord } from '../catalogue/index.js';
import { registeredAddressOf } from '../catalogue/index.js';
import type { BackupLookup } from './task-effects.js';
import { backupFactsFromSummary } from './wire-events.js';

export class StorageBackupLookup implements BackupLookup {
  private readonly clients = new Map<string, StorageClient>();

  constructor(
    private readonly sql: Catalogue,
    /** TLS towards the storage agent of a remote. */
    private readonly credentialsFor: (remote: string) => ChannelCredentials,
    /** Milliseconds to wait for the storage agent's answer. */
    private readonly timeoutMs = 30_000,
  ) {}

  async findBackup(task: TaskRecord, backupId: string): Promise<BackupFacts | undefined> {
    const remote = task.remoteName!;
    const address = await registeredAddressOf(this.sql, remote);
    if (address === undefined) return undefined;
    const summaries = await this.listBackups(address, remote, task.vmUuid ?? '');
    const summary = summaries.find((s) => s.backupId === backupId);
    return summary ? backupFactsFromSummary(summary, remote) : undefined;
  }

  async findBackups(wanted: readonly { task: TaskRecord; backupId: string }[]): Promise<Map<string, BackupFacts>> {
    const remotes = [...new Set(wanted.map((w) => w.task.remoteName!))];
    const addresses = new Map(await Promise.all(remotes.map(async (remote) => [remote, await registeredAddressOf(this.sql, remote)] as const)));
    const listings = new Map<string, Promise<BackupSummary[]>>();
    const found = new Map<string, BackupFacts>();
    await Promise.all(wanted.map(async ({ task, backupId }) => {
      const remote = task.remoteName!;
      const address = addresses.get(remote);
      if (address === undefined) return;
      const key = `${remote}/${task.vmUuid ?? ''}`;
      let listing = listings.get(key);
      // A VM whose listing fails is not found (its result is delivered again later).
      if (!listing) listings.set(key, (listing = this.listBackups(address, remote, task.vmUuid ?? '').catch(() => [])));
      const summary = (await listing).find((s) => s.backupId === backupId);
      if (summary) found.set(task.id, backupFactsFromSummary(summary, remote));
    }));
    return found;
  }

  private async listBackups(address: string, remote: string, vmUuid: string): Promise<BackupSummary[]> {
    const key = `${remote} ${address}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new StorageClient(address, this.credentialsFor(remote));
      this.clients.set(key, client);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeltachainError('STORAGE_TIMEOUT', `the storage agent of remote ${remote} at ${address} did not list its backups within ${this.timeoutMs} ms`, { retryable: true })), this.timeoutMs);
    });
    try {
      return await Promise.race([client.listBackups(vmUuid), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
