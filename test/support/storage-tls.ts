// Test PKI made with openssl: a CA, a server certificate for 127.0.0.1/localhost, a client
// certificate signed by the CA, and an unrelated client certificate from a second CA.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { missingMessage } from './prerequisites.mjs';

const run = promisify(execFile);

export interface TestPki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  strangerCert: string;
  strangerKey: string;
}

async function ca(folder: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(folder, `${name}.crt`);
  const key = join(folder, `${name}.key`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return { cert, key };
}

async function leaf(folder: string, name: string, issuer: { cert: string; key: string }, server: boolean): Promise<{ cert: string; key: string }> {
  const cert = join(folder, `${name}.crt`);
  const key = join(folder, `${name}.key`);
  const csr = join(folder, `${name}.csr`);
  const ext = join(folder, `${name}.ext`);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  await writeFile(ext, server ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-out', cert, '-days', '2', '-extfile', ext]);
  return { cert, key };
}

export async function hasOpenssl(): Promise<boolean> {
  return run('openssl', ['version']).then(
    () => true,
    () => false,
  );
}

/** A `before` hook for suites that make certificates: without openssl they fail, saying what to install. */
export async function requireOpenssl(): Promise<void> {
  if (!(await hasOpenssl())) throw new Error(missingMessage('openssl'));
}

export async function makeTestPki(folder: string): Promise<TestPki> {
  const root = await ca(folder, 'deltachain-test-ca');
  const other = await ca(folder, 'other-ca');
  const server = await leaf(folder, 'storage-agent', root, true);
  const client = await leaf(folder, 'host-agent', root, false);
  const stranger = await leaf(folder, 'stranger', other, false);
  return {
    ca: root.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
  };
}
