// The receiving side of the storage benchmark, in its own process so its peak RSS is its own:
// `storage` mode serves the real gRPC data plane on a temporary remote in plaintext without
// grants; `storage-secure` as production does: mutual TLS with role certificates and a grant
// checked on every call (argv: CA, server certificate, key, the coordinator's public key, PEM
// files); `tcp` mode accepts one raw TCP connection and discards what it reads. Prints "listening <port>" when ready; exits
// (removing the remote) on SIGTERM.
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { startStorageServer } from '../../agent/storage/storage-server.js';
import { readVerifier } from '../../shared/signing/index.js';
import { tempRemoteRoot, testContext } from './storage-harness.js';

const mode = process.argv[2];
if (mode === 'tcp' || mode === 'tcp-file') {
  // tcp: count and discard; tcp-file: append to a file in the temp folder, fsync at the end.
  const root = mode === 'tcp-file' ? await tempRemoteRoot() : undefined;
  const server = createServer((socket) => {
    let bytes = 0;
    const file = root ? openSync(join(root, 'copy.raw'), 'w') : undefined;
    socket.on('data', (d: Buffer) => {
      bytes += d.length;
      if (file !== undefined) writeSync(file, d);
    });
    socket.on('end', () => {
      if (file !== undefined) (fsyncSync(file), closeSync(file));
      socket.end(`${bytes}\n`);
    });
  });
  process.on('exit', () => root && rmSync(root, { recursive: true, force: true }));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  const root = await tempRemoteRoot();
  const ctx = testContext(root, 'bench');
  await ctx.layout.ensure();
  const [ca, cert, key, coordinatorKey] = process.argv.slice(3);
  const server =
    mode === 'storage-secure'
      ? await startStorageServer(ctx, { host: '127.0.0.1', port: 0 }, { ca: ca!, cert: cert!, key: key!, insecure: false }, readVerifier(coordinatorKey!))
      : await startStorageServer(ctx, { host: '127.0.0.1', port: 0 }, { insecure: true });
  process.stdout.write(`listening ${server.port}\n`);
  process.on('SIGTERM', () => {
    void server.close().then(async () => {
      await rm(root, { recursive: true, force: true });
      process.exit(0);
    });
  });
}
