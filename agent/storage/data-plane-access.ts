// How a storage agent's data plane admits calls, decided once at start from its config
// (docs/security.md, "Data plane"): with mutual TLS (storage.tls cert, key and ca) and the
// coordinator's public key (trust.coordinatorKey) every call is judged by the caller's role and
// the coordinator's grant (GrantGuard); without them the agent starts only when the config says
// `storage.tls.insecure: true`, and then serves every call from anyone, with a warning at start.
// A storage agent never authorises by half (roles without grants): an operator who wants checks
// gives all of it.
import type { ServerCredentials } from '@grpc/grpc-js';
import type { TlsConfig } from '../../shared/config/index.js';
import { ConfigError } from '../../shared/errors.js';
import { isMutualTls, serverCredentials, warnIfInsecure } from '../../shared/grpc/credentials.js';
import type { Logger } from '../../shared/logging/index.js';
import type { Verifier } from '../../shared/signing/index.js';
import { GrantGuard, OPEN_GUARD, type CallGuard } from './call-guard.js';

export interface DataPlaneAccess {
  credentials: ServerCredentials;
  guard: CallGuard;
}

/** `coordinatorKey`: the coordinator's public key (trust.coordinatorKey), when configured. */
export function dataPlaneAccess(remoteId: string, tls: TlsConfig, coordinatorKey: Verifier | undefined, logger: Logger, now: () => Date = () => new Date()): DataPlaneAccess {
  const missing = [...(isMutualTls(tls) ? [] : ['storage.tls.cert, storage.tls.key and storage.tls.ca (mutual TLS)']), ...(coordinatorKey ? [] : ['trust.coordinatorKey'])];
  if (missing.length === 0) {
    logger.info({ remoteId }, 'data plane checks every call: mutual TLS, the caller’s role and the coordinator’s grant');
    return { credentials: serverCredentials(tls, 'storage.tls'), guard: new GrantGuard(remoteId, coordinatorKey!, now) };
  }
  if (!tls.insecure) {
    throw new ConfigError(
      `the storage agent authorises every call by the caller's certificate and the coordinator's grant, and lacks ${missing.join(' and ')}: give them (docs/security.md), or set storage.tls.insecure: true to serve every call from anyone`,
    );
  }
  warnIfInsecure(logger, 'storage.tls', tls, 'server');
  logger.warn({ field: 'storage.tls.insecure', missing }, 'insecure data plane: every call is served without checking role or grant; anyone who reaches this port can read, write and commit backups');
  return { credentials: serverCredentials(tls, 'storage.tls'), guard: OPEN_GUARD };
}
