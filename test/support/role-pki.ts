// Test PKI with identities (shared/identity): a CA made with openssl and certificates that carry
// one `urn:deltachain:<role>[:<name>]` subjectAltName URI each — what docs/security.md asks an
// operator to issue. A certificate serves as client and, with `server`, as a TLS server for
// 127.0.0.1/localhost too. `stranger` is a second, unrelated CA for "signed by someone else".
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { identityText, identityUri, type Identity } from '../../shared/identity/index.js';

const run = promisify(execFile);

export interface CertFiles {
  cert: string;
  key: string;
}

export interface RolePki {
  folder: string;
  ca: CertFiles;
  /** A certificate for an identity (or none: `undefined` issues one without any identity URI). */
  issue(identity: Identity | undefined, options?: { server?: boolean; issuer?: CertFiles; file?: string }): Promise<CertFiles>;
  /** A second CA, unrelated to `ca`. */
  stranger: CertFiles;
}

async function makeCa(folder: string, name: string): Promise<CertFiles> {
  const cert = join(folder, `${name}.crt`);
  const key = join(folder, `${name}.key`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return { cert, key };
}

export async function makeRolePki(folder: string): Promise<RolePki> {
  const ca = await makeCa(folder, 'deltachain-ca');
  const stranger = await makeCa(folder, 'stranger-ca');
  let serial = 0;
  return {
    folder,
    ca,
    stranger,
    async issue(identity, options = {}) {
      const name = options.file ?? `${identity ? identityText(identity).replace(':', '-') : 'anonymous'}-${++serial}`;
      const cert = join(folder, `${name}.crt`);
      const key = join(folder, `${name}.key`);
      const csr = join(folder, `${name}.csr`);
      const ext = join(folder, `${name}.ext`);
      await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
      const names = [...(identity ? [`URI:${identityUri(identity)}`] : []), ...(options.server ? ['IP:127.0.0.1', 'DNS:localhost'] : [])];
      const usage = options.server ? 'serverAuth,clientAuth' : 'clientAuth';
      await writeFile(ext, `${names.length > 0 ? `subjectAltName=${names.join(',')}\n` : ''}extendedKeyUsage=${usage}\n`);
      const issuer = options.issuer ?? ca;
      await run('openssl', ['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
      return { cert, key };
    },
  };
}
