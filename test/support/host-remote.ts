// A real storage agent on loopback for host agent tests (the storage harness of the storage
// agent's tests: a temporary remote root and the gRPC server, plaintext), plus the host agent's
// own client of it, as a backup target.
import { ChannelCredentials } from '@grpc/grpc-js';
import { RemoteStorage } from '../../agent/host/remote/remote-storage.js';
import { startStorageHarness, type StorageHarness } from './storage-harness.js';

export interface HostRemote {
  remoteId: string;
  harness: StorageHarness;
  storage: RemoteStorage;
  close(): Promise<void>;
}

export async function startHostRemote(remoteId = 'test-remote'): Promise<HostRemote> {
  const harness = await startStorageHarness();
  const storage = new RemoteStorage(
    { remoteId, address: harness.server.address, credentials: ChannelCredentials.createInsecure() },
    { uploadWindow: 2, callTimeoutMs: 30_000, retry: { tries: 3, baseDelayMs: 20, maxDelayMs: 100 } },
  );
  return {
    remoteId,
    harness,
    storage,
    async close() {
      storage.close();
      await harness.close();
    },
  };
}
