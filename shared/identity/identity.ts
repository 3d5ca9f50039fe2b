// Who a peer is, as its certificate proves it (docs/security.md, "Identities"). Every Deltachain
// certificate carries exactly one identity as a subjectAltName URI:
//   urn:deltachain:coordinator            the coordinator
//   urn:deltachain:host:<pool id>         a host agent of that pool
//   urn:deltachain:storage:<remote id>    the storage agent of that remote
//   urn:deltachain:operator:<name>        a person who may change things (policies, restores …)
//   urn:deltachain:viewer:<name>          a person who may only look
// The role decides what a caller may do on each edge; the name scopes it (a host agent of pool P
// only reads P's tasks, a storage agent serves only its remote). A certificate with no such URI,
// or with two, has no identity and is refused wherever one is needed. Names follow the pattern
// of pool and remote ids (they become NATS subject tokens and paths).
import type { PeerCertificate } from 'node:tls';

export const ROLES = ['coordinator', 'host', 'storage', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Identity {
  role: Role;
  /** Pool id, remote id or person; '' for the coordinator. */
  name: string;
}

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const URI_PREFIX = 'urn:deltachain:';

/** The SAN URI that names an identity, for certificate requests. */
export function identityUri(identity: Identity): string {
  return identity.role === 'coordinator' ? `${URI_PREFIX}coordinator` : `${URI_PREFIX}${identity.role}:${identity.name}`;
}

/** "host:lab", "coordinator": how logs, grants and the audit trail write an identity. */
export function identityText(identity: Identity): string {
  return identity.role === 'coordinator' ? 'coordinator' : `${identity.role}:${identity.name}`;
}

/** Parses `identityText`'s form; undefined when it is not one. */
export function parseIdentityText(text: string): Identity | undefined {
  if (text === 'coordinator') return { role: 'coordinator', name: '' };
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return checked(text.slice(0, colon), text.slice(colon + 1));
}

/** The identity a certificate carries, or undefined (none, several, or malformed). */
export function identityOfCertificate(certificate: Pick<PeerCertificate, 'subjectaltname'> | undefined): Identity | undefined {
  const names = (certificate?.subjectaltname ?? '').split(/,\s*/).filter((n) => n.startsWith(`URI:${URI_PREFIX}`));
  if (names.length !== 1) return undefined;
  const rest = names[0]!.slice(`URI:${URI_PREFIX}`.length);
  if (rest === 'coordinator') return { role: 'coordinator', name: '' };
  const colon = rest.indexOf(':');
  if (colon < 0) return undefined;
  return checked(rest.slice(0, colon), rest.slice(colon + 1));
}

function checked(role: string, name: string): Identity | undefined {
  if (!(ROLES as readonly string[]).includes(role) || role === 'coordinator') return undefined;
  if (!NAME_PATTERN.test(name)) return undefined;
  return { role: role as Role, name };
}
