// One storage client per remote (and address), shared by the tasks that use it, closed when the
// agent stops. Tasks name the remote and its storage agent's address; TLS material comes from the
// host agent's config, never from a task, and the storage agent must show a certificate naming
// the task's remote (`credentialsFor`).
import type { ChannelCredentials } from '@grpc/grpc-js';
import { RemoteStorage, type RemoteStorageOptions } from '../remote/remote-storage.js';

export class RemoteStorages {
  private readonly clients = new Map<string, RemoteStorage>();

  constructor(
    /** TLS towards the storage agent of a remote. */
    private readonly credentialsFor: (remoteId: string) => ChannelCredentials,
    private readonly options: RemoteStorageOptions,
  ) {}

  get(remoteId: string, address: string): RemoteStorage {
    const key = `${remoteId} ${address}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      client = new RemoteStorage({ remoteId, address, credentials: this.credentialsFor(remoteId) }, this.options);
      this.clients.set(key, client);
    }
    return client;
  }

  closeAll(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
