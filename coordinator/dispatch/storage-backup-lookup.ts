// Finds a committed backup's facts by asking the remote's storage agent (ListBackups over its
// gRPC data plane). Used when a backup task's result does not carry the backup's summary: the
// coordinator then checks the commit with the remote itself before recording anything.
// One gRPC client per storage agent address is kept for the process's life (a new channel per
// result cost a connection per backup recorded); close() releases them.
import type { ChannelCredentials } from '@grpc/grpc-js';
import { DeltachainError } from '../../shared/errors.js';
import { StorageClient } from '../../shared/grpc/storage-client.js';
import type { BackupFacts, Catalog, TaskRecord } from '../catalog/index.js';
import { storageAddressOf } from '../catalog/index.js';
import type { BackupLookup } from './task-effects.js';
import { backupFactsFromSummary } from './wire-events.js';

export class StorageBackupLookup implements BackupLookup {
  private readonly clients = new Map<string, StorageClient>();

  constructor(
    private readonly sql: Catalog,
    private readonly credentials: ChannelCredentials,
    /** Milliseconds to wait for the storage agent's answer. */
    private readonly timeoutMs = 30_000,
  ) {}

  async findBackup(task: TaskRecord, backupId: string): Promise<BackupFacts | undefined> {
    const remote = task.remoteName!;
    const address = await storageAddressOf(this.sql, remote);
    if (address === undefined) return undefined;
    let client = this.clients.get(address);
    if (!client) {
      client = new StorageClient(address, this.credentials);
      this.clients.set(address, client);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeltachainError('STORAGE_TIMEOUT', `the storage agent of remote ${remote} at ${address} did not list its backups within ${this.timeoutMs} ms`, { retryable: true })), this.timeoutMs);
    });
    try {
      const summaries = await Promise.race([client.listBackups(task.vmUuid ?? ''), timeout]);
      const summary = summaries.find((s) => s.backupId === backupId);
      return summary ? backupFactsFromSummary(summary, remote) : undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
