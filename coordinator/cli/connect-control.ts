// Connects the CLI to the coordinator's control API (docs/security.md, "Control API"):
//   --socket PATH (or $DELTACHAIN_SOCKET): the coordinator's local unix socket; whoever the
//     socket's permissions let connect is an operator.
//   --api HOST:PORT (or $DELTACHAIN_API): over TCP with mutual TLS — --ca to check the
//     coordinator, --cert/--key an operator's or viewer's certificate (or $DELTACHAIN_CA,
//     _CERT, _KEY); plaintext only with --insecure (a coordinator with api.tls.insecure).
//   neither: the default socket, /run/deltachain/coordinator.sock, when it exists.
// Only Node's fs is used before a command runs the call, so start-up stays quick.
import { existsSync, readFileSync } from 'node:fs';
import { ChannelCredentials } from '@grpc/grpc-js';
import { ConfigError } from '../../shared/errors.js';
import { ControlClient } from '../api/control-client.js';
import type { CliIo } from './cli-io.js';

export const DEFAULT_SOCKET = '/run/deltachain/coordinator.sock';

export interface ConnectionOptions {
  socket?: string;
  api?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(`cannot read the TLS ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

export function connectControl(options: ConnectionOptions, io: CliIo): ControlClient {
  const api = options.api ?? (options.socket === undefined ? io.env.DELTACHAIN_API : undefined);
  if (api !== undefined && api !== '') return new ControlClient(api, tcpCredentials(api, options, io));
  const socket = options.socket ?? io.env.DELTACHAIN_SOCKET ?? DEFAULT_SOCKET;
  if (options.socket === undefined && io.env.DELTACHAIN_SOCKET === undefined && !existsSync(socket)) {
    throw new ConfigError(
      `no coordinator socket at ${socket}: on the coordinator's machine, run as a member of its group; elsewhere give --api HOST:PORT with --ca, --cert and --key (an operator's or viewer's certificate), or --socket PATH`,
    );
  }
  return new ControlClient(`unix:${socket}`, ChannelCredentials.createInsecure());
}

function tcpCredentials(api: string, options: ConnectionOptions, io: CliIo): ChannelCredentials {
  const ca = options.ca ?? io.env.DELTACHAIN_CA;
  const cert = options.cert ?? io.env.DELTACHAIN_CERT;
  const key = options.key ?? io.env.DELTACHAIN_KEY;
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError('give both --cert and --key for a client certificate, or neither');
  if (ca === undefined && cert === undefined) {
    if (options.insecure) return ChannelCredentials.createInsecure();
    throw new ConfigError(`the coordinator at ${api} is reached over TCP: give --ca, --cert and --key (an operator's or viewer's certificate), or --insecure for a coordinator serving plaintext; on its machine, use its socket (--socket)`);
  }
  return ChannelCredentials.createSsl(ca === undefined ? null : readPem(ca, 'CA'), key === undefined ? null : readPem(key, 'key'), cert === undefined ? null : readPem(cert, 'certificate'));
}
