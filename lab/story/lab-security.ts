// The lab's data-plane security material, made fresh for each lab under config/tls/: a CA and
// role certificates (role-certificates.ts) — the coordinator's, one per pool's host agent
// ("host:<pool>") and one per remote's storage agent ("storage:<remote>", also its server
// certificate) — and the coordinator's Ed25519 key pair that signs the grants storage agents
// check. The lab runs the data plane as production does: mutual TLS, every call authorised.
// For the control API: the coordinator's server certificate and an operator's ("operator:lab")
// and a viewer's ("viewer:lab") client certificates, as docs/security.md asks people to hold.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { channelCredentials } from '../../shared/grpc/credentials.js';
import { generateSigningKeyPair } from '../../shared/signing/index.js';
import { makeRoleCertificates, type CertFiles, type RoleCertificates } from './role-certificates.js';
import { randomBytes } from 'node:crypto';

/** A TLS section's files, as the configs take them. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface LabSecurity {
  folder: string;
  /** The coordinator's TLS client files (storage.tls). */
  coordinatorTls: TlsFiles;
  /** The coordinator's control API server files (api.tls): a coordinator certificate for 127.0.0.1/localhost. */
  apiTls: TlsFiles;
  /** An operator's and a viewer's client files for the control API over TCP (the CLI's --ca/--cert/--key). */
  operatorTls: TlsFiles;
  viewerTls: TlsFiles;
  /** Credentials that call a storage agent as the coordinator does (to list what a remote holds). */
  coordinatorCredentials(): ChannelCredentials;
  /** The coordinator's private signing key (keys.signing) and the public key agents pin (trust.coordinatorKey). */
  signingKey: string;
  coordinatorKey: string;
  /** The coordinator's digest key file (keys.digest): seals the catalogue's digests. */
  digestKey: string;
  /** A pool's host agent's TLS files (made on first use). */
  hostTls(pool: string): Promise<TlsFiles>;
  /** A remote's storage agent's TLS files, server and client (made on first use). */
  storageTls(remote: string): Promise<TlsFiles>;
}

/** `serverAddresses`: IP addresses, besides 127.0.0.1, the server certificates (storage agents, control API) are valid for. */
export async function makeLabSecurity(folder: string, options: { serverAddresses?: readonly string[] } = {}): Promise<LabSecurity> {
  const addresses = options.serverAddresses ?? [];
  await mkdir(folder, { recursive: true });
  const [certificates, keys] = await Promise.all([makeRoleCertificates(folder), writeSigningKeys(folder)]);
  const tls = (files: CertFiles): TlsFiles => ({ ca: certificates.ca.cert, ...files });
  const [coordinator, apiTls, operatorTls, viewerTls] = (
    await Promise.all([
      certificates.issue({ role: 'coordinator', name: '' }, { file: 'coordinator' }),
      certificates.issue({ role: 'coordinator', name: '' }, { file: 'coordinator-api', server: true, addresses }),
      certificates.issue({ role: 'operator', name: 'lab' }, { file: 'operator-lab' }),
      certificates.issue({ role: 'viewer', name: 'lab' }, { file: 'viewer-lab' }),
    ])
  ).map(tls) as [TlsFiles, TlsFiles, TlsFiles, TlsFiles];
  const issued = new Map<string, Promise<TlsFiles>>();
  const once = (name: string, make: (c: RoleCertificates) => Promise<CertFiles>): Promise<TlsFiles> => {
    let files = issued.get(name);
    if (!files) issued.set(name, (files = make(certificates).then(tls)));
    return files;
  };
  return {
    folder,
    coordinatorTls: coordinator,
    apiTls,
    operatorTls,
    viewerTls,
    coordinatorCredentials: () => channelCredentials({ ...coordinator, insecure: false }),
    ...keys,
    hostTls: (pool) => once(`host-${pool}`, (c) => c.issue({ role: 'host', name: pool }, { file: `host-${pool}` })),
    storageTls: (remote) => once(`storage-${remote}`, (c) => c.issue({ role: 'storage', name: remote }, { file: `storage-${remote}`, server: true, addresses })),
  };
}

async function writeSigningKeys(folder: string): Promise<{ signingKey: string; coordinatorKey: string; digestKey: string }> {
  const pair = generateSigningKeyPair();
  const signingKey = join(folder, 'coordinator-signing.key');
  const coordinatorKey = join(folder, 'coordinator-signing.pub');
  await writeFile(signingKey, pair.privatePem, { mode: 0o600 });
  await chmod(signingKey, 0o600);
  await writeFile(coordinatorKey, pair.publicPem);
  const digestKey = join(folder, 'coordinator-digest.key');
  await writeFile(digestKey, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  return { signingKey, coordinatorKey, digestKey };
}
