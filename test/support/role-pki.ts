// Test PKI with identities (shared/identity): the lab's openssl CA (lab/story/
// role-certificates.ts) issuing certificates that carry one `urn:deltachain:<role>[:<name>]`
// subjectAltName URI each — what docs/security.md asks an operator to issue. A certificate serves
// as client and, with `server`, as a TLS server for 127.0.0.1/localhost too. `stranger` is a
// second, unrelated CA for "signed by someone else".
import { makeCa, makeRoleCertificates, type CertFiles, type IssueOptions } from '../../lab/story/role-certificates.js';
import type { Identity } from '../../shared/identity/index.js';

export type { CertFiles };

export interface RolePki {
  folder: string;
  ca: CertFiles;
  /** A certificate for an identity (or none: `undefined` issues one without any identity URI). */
  issue(identity: Identity | undefined, options?: IssueOptions): Promise<CertFiles>;
  /** A second CA, unrelated to `ca`. */
  stranger: CertFiles;
}

export async function makeRolePki(folder: string): Promise<RolePki> {
  const [certificates, stranger] = await Promise.all([makeRoleCertificates(folder, { days: 2 }), makeCa(folder, 'stranger-ca', 2)]);
  return { folder, ca: certificates.ca, stranger, issue: certificates.issue };
}
