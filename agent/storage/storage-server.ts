// The gRPC server of a storage agent: binds the service on the configured address with TLS
// (mTLS when a CA is configured) or plaintext when the config says `insecure: true`.
import { Server } from '@grpc/grpc-js';
import type { TlsConfig } from '../../shared/config/index.js';
import { serverCredentials } from '../../shared/grpc/credentials.js';
import { MAX_MESSAGE_BYTES } from '../../shared/grpc/storage-client.js';
import { StorageServiceService } from '../../shared/proto/gen/deltachain/storage/v1/storage.js';
import { createStorageService } from './grpc-service.js';
import type { RemoteContext } from './remote-context.js';

export interface StorageServer {
  /** "host:port" actually bound (port 0 in the config picks a free one). */
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function startStorageServer(ctx: RemoteContext, listen: { host: string; port: number }, tls: TlsConfig): Promise<StorageServer> {
  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  server.addService(StorageServiceService, createStorageService(ctx));
  const credentials = serverCredentials(tls);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${listen.host}:${listen.port}`, credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    address: `${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
