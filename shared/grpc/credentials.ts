// gRPC credentials from config (shared/config `tlsSchema`), strict by default (docs/security.md):
// a server needs a certificate, a key AND a CA — it then requires and checks client certificates
// (mutual TLS), because the certificate's identity is what every call is authorised by; a server
// without a CA would serve anyone, so it starts only with `insecure: true`, as does plaintext. A
// client uses TLS unless `insecure: true`: it verifies the server against `ca` (else the system
// CAs), and — when told whom it calls — that the server's certificate names that identity (a
// storage agent's certificate names its remote: another remote's agent, reached at this address,
// is refused); it shows its own certificate when given one. Files are read once, at start.
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { identityOfCertificate, identityText, type Identity } from '../identity/index.js';
import { ConfigError } from '../errors.js';
import type { TlsConfig } from '../config/index.js';
import type { Logger } from '../logging/index.js';

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(`cannot read TLS ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** `field` names the config section in errors, e.g. "storage.tls". */
export function serverCredentials(tls: TlsConfig, field = 'tls'): ServerCredentials {
  if (tls.cert === undefined || tls.key === undefined) {
    if (tls.insecure) return ServerCredentials.createInsecure();
    throw new ConfigError(`${field}: a gRPC server needs ${field}.cert, ${field}.key and ${field}.ca (or ${field}.insecure: true for plaintext)`);
  }
  if (tls.ca === undefined && !tls.insecure) {
    throw new ConfigError(
      `${field}: a server without a CA would serve anyone: give ${field}.ca (clients must then show a certificate it signed), or ${field}.insecure: true to serve without client certificates`,
    );
  }
  const ca = tls.ca === undefined ? null : readPem(tls.ca, 'CA');
  return ServerCredentials.createSsl(ca, [{ cert_chain: readPem(tls.cert, 'certificate'), private_key: readPem(tls.key, 'key') }], ca !== null);
}

/** `server`: the identity the server's certificate must carry (besides naming the host called). */
export function channelCredentials(tls: TlsConfig, server?: Identity): ChannelCredentials {
  if (tls.insecure) return ChannelCredentials.createInsecure();
  const ca = tls.ca === undefined ? null : readPem(tls.ca, 'CA');
  const key = tls.key === undefined ? null : readPem(tls.key, 'key');
  const cert = tls.cert === undefined ? null : readPem(tls.cert, 'certificate');
  if ((key === null) !== (cert === null)) throw new ConfigError('give both tls.cert and tls.key for a client certificate, or neither');
  return ChannelCredentials.createSsl(ca, key, cert, server === undefined ? {} : { checkServerIdentity: serverIdentityCheck(server) });
}

/** Node's host name check, then the Deltachain identity the certificate carries. */
export function serverIdentityCheck(expected: Identity): (host: string, certificate: PeerCertificate) => Error | undefined {
  const wanted = identityText(expected);
  return (host, certificate) => {
    const hostError = checkServerIdentity(host, certificate);
    if (hostError) return hostError;
    const found = identityOfCertificate(certificate);
    if (found !== undefined && identityText(found) === wanted) return undefined;
    return new Error(`the server at ${host} is not ${wanted}: its certificate names ${found ? identityText(found) : 'no Deltachain identity'}`);
  };
}

/** True when a server with this config checks client certificates (mutual TLS). */
export function isMutualTls(tls: TlsConfig): boolean {
  return tls.cert !== undefined && tls.key !== undefined && tls.ca !== undefined;
}

/**
 * Logs, once at start, what an `insecure: true` edge gives up: plaintext (no TLS material) or,
 * for a server, TLS without client certificates. Silent for a strict config.
 */
export function warnIfInsecure(logger: Logger, field: string, tls: TlsConfig, side: 'server' | 'client'): void {
  if (!tls.insecure) return;
  if (side === 'client' || tls.cert === undefined || tls.key === undefined) {
    logger.warn({ field, mode: 'plaintext' }, 'insecure gRPC edge: plaintext, anyone on the network path can read and change what is sent');
  } else if (tls.ca === undefined) {
    logger.warn({ field, mode: 'tls-without-client-certificates' }, 'insecure gRPC edge: no client certificates, this server serves anyone who reaches it');
  }
}
