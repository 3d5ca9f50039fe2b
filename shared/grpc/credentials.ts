// gRPC credentials from config (shared/config `tlsSchema`): TLS with the given cert/key, mutual
// TLS when a CA is given (the server then requires and checks client certificates), plaintext
// only when the config says `insecure: true`. Files are read once, at start.
import { readFileSync } from 'node:fs';
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { ConfigError } from '../errors.js';
import type { TlsConfig } from '../config/index.js';

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(`cannot read TLS ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

export function serverCredentials(tls: TlsConfig): ServerCredentials {
  if (tls.insecure) return ServerCredentials.createInsecure();
  if (tls.cert === undefined || tls.key === undefined) {
    throw new ConfigError('a gRPC server needs tls.cert and tls.key (or tls.insecure: true for plaintext)');
  }
  const ca = tls.ca === undefined ? null : readPem(tls.ca, 'CA');
  return ServerCredentials.createSsl(ca, [{ cert_chain: readPem(tls.cert, 'certificate'), private_key: readPem(tls.key, 'key') }], ca !== null);
}

export function channelCredentials(tls: TlsConfig): ChannelCredentials {
  if (tls.insecure) return ChannelCredentials.createInsecure();
  const ca = tls.ca === undefined ? null : readPem(tls.ca, 'CA');
  const key = tls.key === undefined ? null : readPem(tls.key, 'key');
  const cert = tls.cert === undefined ? null : readPem(tls.cert, 'certificate');
  if ((key === null) !== (cert === null)) throw new ConfigError('give both tls.cert and tls.key for a client certificate, or neither');
  return ChannelCredentials.createSsl(ca, key, cert);
}
