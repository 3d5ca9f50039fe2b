// Independent NBD servers for the NBD client's tests and bench: qemu-nbd and nbdkit serving a
// file, plaintext or TLS, on a free loopback port; test certificates made with openssl; a disk
// image of random bytes with holes; and a TCP relay that cuts its connections on demand.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type NbdServerKind = 'qemu-nbd' | 'nbdkit';

export interface NbdServerOptions {
  kind: NbdServerKind;
  file: string;
  exportName: string;
  /** A folder with ca-cert.pem, server-cert.pem and server-key.pem: TLS required. */
  tlsFolder?: string;
  /** Listen on this port (restarting a server where it was); default a free one. */
  port?: number;
}

export interface RunningNbdServer {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function serverArguments(options: NbdServerOptions, port: number): [string, string[]] {
  const { file, exportName, tlsFolder } = options;
  if (options.kind === 'qemu-nbd') {
    const tls = tlsFolder ? ['--object', `tls-creds-x509,id=tls0,dir=${tlsFolder},endpoint=server,verify-peer=off`, '--tls-creds', 'tls0'] : [];
    return ['qemu-nbd', ['-f', 'raw', '-r', '-x', exportName, '--persistent', '--shared=16', '-b', '127.0.0.1', '-p', String(port), ...tls, file]];
  }
  const tls = tlsFolder ? ['--tls=require', `--tls-certificates=${tlsFolder}`] : [];
  return ['nbdkit', ['-f', '-r', '-p', String(port), '-i', '127.0.0.1', '--exportname', exportName, ...tls, 'file', file]];
}

/** Starts the server and waits until its port accepts connections. */
export async function startNbdServer(options: NbdServerOptions): Promise<RunningNbdServer> {
  const port = options.port ?? (await freePort());
  const [command, args] = serverArguments(options, port);
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${command} did not start on port ${port}: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export interface TestCertificates {
  /** PEM of the CA that signed server-cert.pem (for qemu-nbd and nbdkit folders). */
  caPem: string;
  /** A folder with ca-cert.pem, server-cert.pem (CA-signed, for `subject` and 127.0.0.1), server-key.pem. */
  signedFolder: string;
  /** A folder whose server certificate signs itself, as an XCP-ng host's does; its PEM is `selfSignedPem`. */
  selfSignedFolder: string;
  selfSignedPem: string;
  /** PEM of an unrelated CA (for "not the pinned certificate"). */
  strangerPem: string;
  subject: string;
}

export async function makeTestCertificates(folder: string, subject = 'nbd.pool.test'): Promise<TestCertificates> {
  const signedFolder = join(folder, 'signed');
  const selfSignedFolder = join(folder, 'self-signed');
  await Promise.all([mkdir(signedFolder, { recursive: true }), mkdir(selfSignedFolder, { recursive: true })]);
  const extensions = join(folder, 'server.ext');
  await writeFile(extensions, `subjectAltName=DNS:${subject},IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
  const ca = (name: string, key: string, cert: string) =>
    run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign,cRLSign']);
  await Promise.all([ca('nbd test ca', join(folder, 'ca-key.pem'), join(signedFolder, 'ca-cert.pem')), ca('stranger ca', join(folder, 'stranger-key.pem'), join(folder, 'stranger.pem'))]);
  const csr = join(folder, 'server.csr');
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${subject}`, '-keyout', join(signedFolder, 'server-key.pem'), '-out', csr]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', join(signedFolder, 'ca-cert.pem'), '-CAkey', join(folder, 'ca-key.pem'), '-CAcreateserial', '-days', '2', '-extfile', extensions, '-out', join(signedFolder, 'server-cert.pem')]);
  const selfCert = join(selfSignedFolder, 'server-cert.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${subject}`, '-keyout', join(selfSignedFolder, 'server-key.pem'), '-out', selfCert, '-addext', `subjectAltName=DNS:${subject},IP:127.0.0.1`, '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth']);
  await copyFile(selfCert, join(selfSignedFolder, 'ca-cert.pem'));
  return {
    caPem: await readFile(join(signedFolder, 'ca-cert.pem'), 'utf8'),
    signedFolder,
    selfSignedFolder,
    selfSignedPem: await readFile(selfCert, 'utf8'),
    strangerPem: await readFile(join(folder, 'stranger.pem'), 'utf8'),
    subject,
  };
}

/**
 * A file of `size` bytes: random data in most 1 MiB stretches, holes (never written, so sparse and
 * reading as zeroes) in every fourth one, written in 1 MiB pieces.
 */
export async function makeDiskImage(path: string, size: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    const piece = 1024 * 1024;
    for (let offset = 0, index = 0; offset < size; offset += piece, index++) {
      if (index % 4 === 3) continue;
      await handle.write(randomBytes(Math.min(piece, size - offset)), 0, Math.min(piece, size - offset), offset);
    }
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

/** A loopback TCP relay to `targetPort` whose connections can be cut: after N bytes towards the client, or now. */
export class CuttingRelay {
  private readonly sockets = new Set<Socket>();
  private cutAfter: number | undefined;
  cuts = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CuttingRelay> {
    let relay: CuttingRelay | undefined;
    const server = createServer((client) => relay!.relay(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    relay = new CuttingRelay(server, (server.address() as { port: number }).port);
    return relay;
  }

  /** The next connection carrying `bytes` towards the client is cut there (once). */
  cutNextAfter(bytes: number): void {
    this.cutAfter = bytes;
  }

  cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.cuts++;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket, targetPort: number): void {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    this.sockets.add(client).add(upstream);
    let towardsClient = 0;
    upstream.on('data', (chunk: Buffer) => {
      towardsClient += chunk.length;
      const limit = this.cutAfter;
      if (limit !== undefined && towardsClient >= limit) {
        this.cutAfter = undefined;
        this.cuts++;
        client.write(chunk.subarray(0, chunk.length - (towardsClient - limit)));
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }
}
