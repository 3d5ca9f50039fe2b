// A certificate authority for Deltachain's roles, made with openssl as docs/security.md asks an
// operator to: a CA, and certificates that carry one identity each as a subjectAltName URI
// (`urn:deltachain:<role>[:<name>]`, shared/identity). A certificate serves as a TLS client and,
// with `server`, as a server for 127.0.0.1/localhost too (the lab's storage agents listen there).
// EC P-256 keys: small and quick to make. The lab makes one per run; tests make their own.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { identityText, identityUri, type Identity } from '../../shared/identity/index.js';

const run = promisify(execFile);

export interface CertFiles {
  cert: string;
  key: string;
}

export interface IssueOptions {
  /** Also a TLS server certificate for 127.0.0.1 and localhost. */
  server?: boolean;
  /** More IP addresses the server certificate is valid for (servers reached elsewhere than loopback). */
  addresses?: readonly string[];
  /** Another CA to sign with (default: this one). */
  issuer?: CertFiles;
  /** File name without extension (default: from the identity). */
  file?: string;
}

export interface RoleCertificates {
  folder: string;
  ca: CertFiles;
  /** A certificate for an identity (`undefined`: one without any identity URI). */
  issue(identity: Identity | undefined, options?: IssueOptions): Promise<CertFiles>;
}

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA named `name`, valid `days`. */
export async function makeCa(folder: string, name: string, days = 30): Promise<CertFiles> {
  const cert = join(folder, `${name}.crt`);
  const key = join(folder, `${name}.key`);
  await run('openssl', ['req', '-x509', ...KEY_ARGS, '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${name}`]);
  return { cert, key };
}

export async function makeRoleCertificates(folder: string, options: { caName?: string; days?: number } = {}): Promise<RoleCertificates> {
  const days = options.days ?? 30;
  const ca = await makeCa(folder, options.caName ?? 'deltachain-ca', days);
  let serial = 0;
  return {
    folder,
    ca,
    async issue(identity, o = {}) {
      const name = o.file ?? `${identity ? identityText(identity).replace(':', '-') : 'anonymous'}-${++serial}`;
      const cert = join(folder, `${name}.crt`);
      const key = join(folder, `${name}.key`);
      const csr = join(folder, `${name}.csr`);
      const ext = join(folder, `${name}.ext`);
      await run('openssl', ['req', ...KEY_ARGS, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
      const names = [...(identity ? [`URI:${identityUri(identity)}`] : []), ...(o.server ? ['IP:127.0.0.1', 'DNS:localhost', ...(o.addresses ?? []).map((a) => `IP:${a}`)] : [])];
      const usage = o.server ? 'serverAuth,clientAuth' : 'clientAuth';
      await writeFile(ext, `${names.length > 0 ? `subjectAltName=${names.join(',')}\n` : ''}extendedKeyUsage=${usage}\n`);
      const issuer = o.issuer ?? ca;
      await run('openssl', ['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-out', cert, '-days', String(days), '-extfile', ext]);
      return { cert, key };
    },
  };
}
