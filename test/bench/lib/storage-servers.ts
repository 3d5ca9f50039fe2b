// The storage benchmarks' receiving processes (test/support/storage-bench-server.ts: the real
// gRPC data plane, or a raw TCP sink) and the role certificates and grants of the secure mode.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GrantAction, encodeSignedGrant, signGrant } from '../../../shared/grants/index.js';
import { generateSigningKeyPair, signerFromPem, type Signer } from '../../../shared/signing/index.js';
import { makeRolePki, type CertFiles, type RolePki } from '../../support/role-pki.js';

const SERVER = fileURLToPath(new URL('../../support/storage-bench-server.ts', import.meta.url));

export type ServerMode = 'storage' | 'storage-secure' | 'tcp' | 'tcp-file';

/** Starts a node script (TypeScript, through tsx) that prints "listening <port>"; `nodeArgs` go before it. */
export async function startListening(script: string, args: string[], nodeArgs: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited ${code} before listening`)));
  });
  return { child, port };
}

export function startServer(mode: ServerMode, args: string[] = [], nodeArgs: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  return startListening(SERVER, [mode, ...args], nodeArgs);
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export interface Secure {
  pki: RolePki;
  host: CertFiles;
  server: CertFiles;
  coordinator: Signer;
  coordinatorPub: string;
}

/** Role certificates (a storage server, a host agent client) and a coordinator key pair. */
export async function makeSecure(folder: string): Promise<Secure> {
  const pki = await makeRolePki(folder);
  const [server, host] = await Promise.all([pki.issue({ role: 'storage', name: 'bench' }, { server: true }), pki.issue({ role: 'host', name: 'bench' })]);
  const pair = generateSigningKeyPair();
  const coordinatorPub = join(folder, 'coordinator.pub');
  await writeFile(coordinatorPub, pair.publicPem);
  return { pki, host, server, coordinator: signerFromPem(pair.privatePem, 'bench coordinator'), coordinatorPub };
}

/** The secure storage server's argv after its mode. */
export function secureServerArgs(secure: Secure): string[] {
  return [secure.pki.ca.cert, secure.server.cert, secure.server.key, secure.coordinatorPub];
}

/** A grant for the bench host to write or read `vmUuid`'s `backupId` on remote "bench" for an hour. */
export function benchGrant(secure: Secure, vmUuid: string, backupId: string, action: 'write' | 'read'): Uint8Array {
  return encodeSignedGrant(
    signGrant(secure.coordinator, {
      action: action === 'write' ? GrantAction.GRANT_ACTION_WRITE : GrantAction.GRANT_ACTION_READ,
      remoteId: 'bench', vmUuid, backupId, diskKeys: [],
      holder: 'host:bench', expiresAtMs: Date.now() + 3600_000, taskId: randomUUID(),
    }),
  );
}
