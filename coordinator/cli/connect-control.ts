// Connects the CLI to the coordinator's control API. The address comes from --coordinator, else
// DELTACHAIN_COORDINATOR, else 127.0.0.1:7100. TLS from --tls-ca/--tls-cert/--tls-key (or the
// DELTACHAIN_TLS_CA/_CERT/_KEY variables); plaintext only to a loopback address or with
// --insecure, so credentials and catalogue data never cross a network in clear by accident.
import { readFileSync } from 'node:fs';
import { ChannelCredentials } from '@grpc/grpc-js';
import { ConfigError } from '../../shared/errors.js';
import { ControlClient } from '../api/control-client.js';
import type { CliIo } from './cli-io.js';

export const DEFAULT_COORDINATOR = '127.0.0.1:7100';

export interface ConnectionOptions {
  coordinator?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecure?: boolean;
}

function isLoopback(address: string): boolean {
  const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(`cannot read the TLS ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

export function connectControl(options: ConnectionOptions, io: CliIo): ControlClient {
  const address = options.coordinator ?? io.env.DELTACHAIN_COORDINATOR ?? DEFAULT_COORDINATOR;
  const ca = options.tlsCa ?? io.env.DELTACHAIN_TLS_CA;
  const cert = options.tlsCert ?? io.env.DELTACHAIN_TLS_CERT;
  const key = options.tlsKey ?? io.env.DELTACHAIN_TLS_KEY;
  let credentials: ChannelCredentials;
  if (ca !== undefined || cert !== undefined || key !== undefined) {
    if ((cert === undefined) !== (key === undefined)) throw new ConfigError('give both --tls-cert and --tls-key for a client certificate, or neither');
    credentials = ChannelCredentials.createSsl(
      ca === undefined ? null : readPem(ca, 'CA'),
      key === undefined ? null : readPem(key, 'key'),
      cert === undefined ? null : readPem(cert, 'certificate'),
    );
  } else if (options.insecure || isLoopback(address)) {
    credentials = ChannelCredentials.createInsecure();
  } else {
    throw new ConfigError(`the coordinator at ${address} is not on this machine: give --tls-ca (and --tls-cert/--tls-key for mutual TLS), or --insecure to talk in plaintext`);
  }
  return new ControlClient(address, credentials);
}
