// A real storage agent (gRPC on loopback, plaintext as `insecure: true` makes it) taking tasks
// from its own NATS namespace, with a client: for tests of storage tasks (verify, merge, scan)
// on a remote the test fills through the client. `close()` stops the three, not the remote root.
import { ChannelCredentials } from '@grpc/grpc-js';
import { startStorageAgent, storageAgentConfigSchema, type RunningStorageAgent } from '../../agent/storage/index.js';
import { StorageClient } from '../../shared/grpc/storage-client.js';
import { createLogger } from '../../shared/logging/index.js';
import { startTestNats, testNatsSection, type TestNats } from './storage-nats.js';
import { testTaskKeys } from './task-keys.js';

export interface StorageAgentOnNats {
  nats: TestNats;
  agent: RunningStorageAgent;
  client: StorageClient;
  close(): Promise<void>;
}

/** The agent of remote `remoteId` over `root`; its task queue's ack wait is 10 s. */
export async function startStorageAgentOnNats(remoteId: string, root: string): Promise<StorageAgentOnNats> {
  const nats = await startTestNats();
  try {
    await nats.queue('storage', remoteId, { ackWaitSeconds: 10 });
    const config = storageAgentConfigSchema.parse({
      role: 'storage',
      agentId: `agent-${remoteId}`,
      nats: testNatsSection(nats.namespace),
      storage: { remoteId, root, listen: { host: '127.0.0.1', port: 0 }, tls: { insecure: true } },
      trust: { coordinatorKey: testTaskKeys().publicPath },
    });
    const agent = await startStorageAgent(config, createLogger({ level: 'silent', pretty: false }));
    const client = new StorageClient(agent.address, ChannelCredentials.createInsecure());
    return {
      nats,
      agent,
      client,
      async close() {
        client.close();
        await agent.stop();
        await nats.close();
      },
    };
  } catch (error) {
    await nats.close();
    throw error;
  }
}
