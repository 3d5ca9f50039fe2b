// The gRPC server of a storage agent: binds the service, behind its guard (guarded-service.ts),
// on the configured address — with mutual TLS and every call checked by role and grant, or, when
// the config says `insecure: true`, open to anyone (data-plane-access.ts).
import type { EventEmitter } from 'node:events';
import type { Http2Session } from 'node:http2';
import { Server } from '@grpc/grpc-js';
import type { Logger } from '../../shared/logging/index.js';
import type { TlsConfig } from '../../shared/config/index.js';
import { serializeGetDiskResponse } from '../../shared/grpc/get-disk-encoding.js';
import { installFramedMessages } from '../../shared/grpc/framed-message.js';
import { BASE_WINDOW_BYTES, WindowBudget, tuneReceiveWindows } from '../../shared/grpc/http2-windows.js';
import { MAX_MESSAGE_BYTES } from '../../shared/grpc/storage-client.js';
import { StorageServiceService } from '../../shared/proto/gen/deltachain/storage/v1/storage.js';
import type { Verifier } from '../../shared/signing/index.js';
import { dataPlaneAccess } from './data-plane-access.js';
import { createStorageService } from './grpc-service.js';
import { guardStorageService } from './guarded-service.js';
import type { RemoteContext } from './remote-context.js';
import { DEFAULT_UPLOAD_LIMITS } from './upload-limits.js';

export interface StorageServer {
  /** "host:port" actually bound (port 0 in the config picks a free one). */
  address: string;
  port: number;
  close(): Promise<void>;
}

/** `coordinatorKey`: the coordinator's public key the grants are checked with (trust.coordinatorKey). */
export async function startStorageServer(ctx: RemoteContext, listen: { host: string; port: number }, tls: TlsConfig, coordinatorKey?: Verifier): Promise<StorageServer> {
  const access = dataPlaneAccess(ctx.remoteId, tls, coordinatorKey, ctx.logger, ctx.now);
  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_concurrent_streams': (ctx.limits ?? DEFAULT_UPLOAD_LIMITS).maxConcurrentStreams,
  });
  widenReceiveWindow(server);
  // GetDisk's blocks and VHD chunks are serialized with one copy (get-disk-encoding.ts), a VHD
  // stream's blocks with none (framed-message.ts).
  if (!installFramedMessages()) ctx.logger.warn('this grpc-js has no BaseServerInterceptingCall.serializeMessage (grpc-js 1.14 has) to send framed messages through: restores work, but copy each block once more; install the grpc-js version package-lock.json names');
  const service = { ...StorageServiceService, getDisk: { ...StorageServiceService.getDisk, responseSerialize: serializeGetDiskResponse } };
  server.addService(service, guardStorageService(createStorageService(ctx), access.guard, ctx.logger));
  const credentials = access.credentials;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${listen.host}:${listen.port}`, credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  widenConnectionWindow(server, ctx.logger);
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

/** HTTP/2 receive window per stream until the connection's round trip is measured (http2-windows.ts): a few blocks in flight, so loopback and LAN links stay busy. */
export const RECEIVE_WINDOW_BYTES = BASE_WINDOW_BYTES;

/**
 * Receive window all connections share once their round trips grow them past the base: what the
 * agent may hold unread from far peers together (e.g. two peers at 150 ms get 45 MiB each, five get 25).
 */
export const RECEIVE_WINDOW_BUDGET_BYTES = 128 * 1024 * 1024;

/** HTTP/2 receive window of a whole connection, bytes: two streams' windows (two disks of a VM on one connection). */
export const CONNECTION_RECEIVE_WINDOW_BYTES = 2 * RECEIVE_WINDOW_BYTES;

/**
 * grpc-js offers no server option for the HTTP/2 initial window (the client has
 * `grpc-node.flow_control_window`), and the default 64 KiB window caps a stream at one 64 KiB
 * round trip per event-loop turn. A 1 MiB maximum frame size lets a 2 MiB block arrive in 2 DATA
 * frames instead of 128. The settings object grpc-js hands to `http2.createServer` is filled here
 * before binding; if a grpc-js version renames it, we keep the defaults (slower, still correct).
 */
function widenReceiveWindow(server: Server): void {
  const internals = server as unknown as { commonServerOptions?: { settings?: Record<string, number> } };
  if (!internals.commonServerOptions) return;
  internals.commonServerOptions.settings = {
    ...internals.commonServerOptions.settings,
    initialWindowSize: RECEIVE_WINDOW_BYTES,
    maxFrameSize: 1024 * 1024,
  };
}

/**
 * HTTP/2 bounds a connection as well as each stream, and the connection's window is no setting:
 * it stays at 65 535 bytes until the receiver sends a WINDOW_UPDATE for the connection, and
 * nghttp2 sends one only when half of it is used. Left so, an upload of any size moves about
 * 64 KiB per round trip between the agents' event loops, whatever the stream window: measured on
 * a scattered CBT delta (500 MiB in 2 036 blocks), the host agent spent 95 % of the delta waiting
 * for gRPC to take the next block while the storage agent waited 70 % of it for the next message.
 * grpc-js widens the window on the client side (`grpc-node.flow_control_window`) but has no server
 * option, so each new connection's window is widened here; if a grpc-js version renames its list
 * of HTTP/2 servers, the agent warns and keeps the narrow window (slower, still correct). Then the
 * windows follow the connection's round trip (http2-windows.ts), for links far away.
 */
function widenConnectionWindow(server: Server, logger: Logger): void {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    logger.warn('this grpc-js keeps its HTTP/2 servers elsewhere: uploads run with HTTP/2\'s 64 KiB connection window, far below the link\'s speed');
    return;
  }
  const budget = new WindowBudget(RECEIVE_WINDOW_BUDGET_BYTES);
  for (const http2Server of servers.keys() as IterableIterator<EventEmitter>) {
    http2Server.on('session', (session: Http2Session) => {
      try {
        session.setLocalWindowSize(CONNECTION_RECEIVE_WINDOW_BYTES);
        tuneReceiveWindows(session, {
          minConnectionWindow: CONNECTION_RECEIVE_WINDOW_BYTES,
          budget,
          onResize: (window, rttMs) => logger.debug({ windowBytes: window, rttMs }, 'HTTP/2 receive windows sized to the round trip'),
        });
      } catch (error) {
        // A session closed before its settings went out: nothing to widen.
        logger.debug({ err: error }, 'HTTP/2 connection window not widened: the session is gone');
      }
    });
  }
}
