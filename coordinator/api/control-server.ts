// Serves the control API over gRPC on one address ("host:port"; port 0 picks a free one).
import { Server, type ServerCredentials } from '@grpc/grpc-js';
import { ControlServiceService } from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { DeltachainError } from '../../shared/errors.js';
import type { ControlContext } from './control-context.js';
import { controlService } from './control-service.js';

export interface ControlServer {
  /** The port bound (useful with port 0). */
  port: number;
  /** Stops accepting calls; waits up to `graceMs` for calls in flight, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

export async function startControlServer(ctx: ControlContext, address: string, credentials: ServerCredentials): Promise<ControlServer> {
  const server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  server.addService(ControlServiceService, controlService(ctx));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (error, bound) => {
      if (error) reject(new DeltachainError('API_BIND_FAILED', `cannot serve the control API on ${address}: ${error.message}`, { cause: error }));
      else resolve(bound);
    });
  });
  return {
    port,
    close: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
