// The NBD server's TLS certificate, made once in the lab's state folder (`nbd/`) with openssl and
// kept across restarts, as a host keeps its own. Like XCP-ng's it is self-signed and its subject
// is the host's name; VDI.get_nbd_info hands out the PEM and the subject, and a client trusts that
// certificate alone.
//
// It says `basicConstraints CA:TRUE` (and keyCertSign): GnuTLS clients (qemu-img's tls-creds-x509,
// nbdinfo/nbdcopy's tls-certificates=) load the trusted file as a CA and refuse one that is not a
// CA ("basic constraints do not show a CA"); Node's TLS and OpenSSL accept it either way. The
// subjectAltName carries the name and the address served, so a client connecting by address
// (qemu-img and libnbd check the URI's host) accepts it too.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NbdCertificate {
  /** PEM. */
  cert: string;
  /** PEM; never leaves the lab. */
  key: string;
  /** The certificate's CN, what a client checks. */
  subject: string;
}

const CERT_FILE = 'server-cert.pem';
const KEY_FILE = 'server-key.pem';

/** The certificate in `<stateDir>/nbd`, made for `subject` and `address` when missing. */
export async function ensureNbdCertificate(stateDir: string, subject: string, address: string): Promise<NbdCertificate> {
  const folder = join(stateDir, 'nbd');
  const existing = await readCertificate(folder);
  if (existing) return existing;
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const making = join(folder, 'making');
  await rm(making, { recursive: true, force: true });
  await mkdir(making, { mode: 0o700 });
  const names = [`DNS:${subject}`, ...(isIP(address) ? [`IP:${address}`] : address ? [`DNS:${address}`] : [])];
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
    '-subj', `/CN=${subject}`, '-keyout', join(making, KEY_FILE), '-out', join(making, CERT_FILE),
    '-addext', `subjectAltName=${[...new Set(names)].join(',')}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
    '-addext', 'extendedKeyUsage=serverAuth',
  ]);
  // The key first, the certificate last: a certificate on disk means the pair is complete.
  await rename(join(making, KEY_FILE), join(folder, KEY_FILE));
  await rename(join(making, CERT_FILE), join(folder, CERT_FILE));
  await rm(making, { recursive: true, force: true });
  return (await readCertificate(folder))!;
}

async function readCertificate(folder: string): Promise<NbdCertificate | undefined> {
  let cert: string;
  try {
    cert = await readFile(join(folder, CERT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const key = await readFile(join(folder, KEY_FILE), 'utf8');
  const commonName = new X509Certificate(cert).subject.split('\n').find((part) => part.startsWith('CN='));
  return { cert, key, subject: commonName?.slice(3) ?? '' };
}
