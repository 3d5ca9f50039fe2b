// Serves the control API (docs/security.md, "Control API") on its endpoints: a local unix socket
// — made mode 0660, so its owner and group decide who may connect — and/or a TCP address with
// mutual TLS. Each endpoint is its own gRPC server, so a call's transport is known for certain
// (both a socket and an insecure TCP endpoint are "plaintext" to grpc-js). Every service is
// behind the access policy and writes the audit trail (guarded-control-service.ts).
import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ControlServiceService } from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { ConfigError, DeltachainError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging/index.js';
import type { ControlContext } from './control-context.js';
import { controlService } from './control-service.js';
import { guardControlService, type ControlTransport } from './guarded-control-service.js';

/** The mode of the control socket: owner and group may connect, nobody else. */
export const SOCKET_MODE = 0o660;

export type ControlEndpoint =
  /** A unix socket at `path`; its callers are operators. `group`: a group name or gid to give it (else the process's). */
  | { kind: 'socket'; path: string; group?: string }
  /** "host:port" (port 0 picks a free one); `open`: callers without a certificate identity are operators (insecure). */
  | { kind: 'tcp'; address: string; credentials: ServerCredentials; open: boolean };

export interface ControlServer {
  /** The TCP port bound (useful with port 0); 0 without a TCP endpoint. */
  port: number;
  /** The socket's path, when served on one. */
  socket?: string;
  /** Stops accepting calls; waits up to `graceMs` for calls in flight, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

export async function startControlServer(ctx: ControlContext, endpoints: readonly ControlEndpoint[], logger: Logger): Promise<ControlServer> {
  if (endpoints.length === 0) throw new ConfigError('the control API needs an endpoint: api.socket, or api.listen with api.tls');
  const service = controlService(ctx);
  const servers: Server[] = [];
  let port = 0;
  let socket: string | undefined;
  try {
    for (const endpoint of endpoints) {
      const transport: ControlTransport = endpoint.kind === 'socket' ? { kind: 'socket' } : { kind: 'tls', open: endpoint.open };
      const server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
      server.addService(ControlServiceService, guardControlService(service, transport, ctx, logger));
      servers.push(server);
      if (endpoint.kind === 'socket') {
        await bindSocket(server, endpoint.path, endpoint.group);
        socket = endpoint.path;
      } else {
        port = await bind(server, endpoint.address, endpoint.credentials);
      }
    }
  } catch (error) {
    for (const server of servers) server.forceShutdown();
    throw error;
  }
  return {
    port,
    ...(socket === undefined ? {} : { socket }),
    close: async (graceMs = 2000) => {
      await Promise.all(servers.map((server) => shutdown(server, graceMs)));
      if (socket !== undefined) await unlink(socket).catch(() => undefined);
    },
  };
}

function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (error, bound) => {
      if (error) reject(new DeltachainError('API_BIND_FAILED', `cannot serve the control API on ${address}: ${error.message}`, { cause: error }));
      else resolve(bound);
    });
  });
}

/**
 * Binds the socket with mode 0660 from the start (umask while binding, chmod after). A socket
 * left by a coordinator that is gone is replaced; one a live coordinator answers on, or a file
 * that is not a socket, stops the start.
 */
async function bindSocket(server: Server, path: string, group: string | undefined): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  const existing = await lstat(path).catch(() => undefined);
  if (existing !== undefined) {
    if (!existing.isSocket()) throw new ConfigError(`api.socket ${path} exists and is not a socket: remove it or choose another path`);
    if (await answers(path)) throw new ConfigError(`api.socket ${path}: another coordinator serves on it; stop it or choose another path`);
    await unlink(path);
  }
  const umask = process.umask(0o117);
  try {
    await bind(server, `unix:${path}`, ServerCredentials.createInsecure());
  } finally {
    process.umask(umask);
  }
  await chmod(path, SOCKET_MODE);
  if (group !== undefined) {
    const gid = await groupId(group);
    await chown(path, -1, gid).catch((cause: Error) => {
      throw new ConfigError(`api.socketGroup ${group}: cannot give the socket to that group (${cause.message}); the coordinator must be a member (systemd: SupplementaryGroups=)`, { cause });
    });
  }
}

/** A gid, or a group name looked up in /etc/group. */
async function groupId(group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.split(':')[0] === group);
  const gid = line?.split(':')[2];
  if (gid === undefined || !/^\d+$/.test(gid)) throw new ConfigError(`api.socketGroup ${group}: no such group in /etc/group; create it (deploy/systemd/deltachain.sysusers.conf) or give a gid`);
  return Number(gid);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
}

function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
