// The storage agent's HTTP/2 receive windows, seen from a client on the wire (node:http2, not
// grpc-js): each stream may carry RECEIVE_WINDOW_BYTES before the agent reads it, and the
// connection as a whole CONNECTION_RECEIVE_WINDOW_BYTES — not HTTP/2's default 65 535 bytes, which
// held every upload to about 64 KiB per round trip. Plaintext (`insecure`) and mutual TLS, since
// grpc-js builds a different HTTP/2 server for each.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { connect, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tlsSchema } from '../shared/config/index.js';
import { generateSigningKeyPair, verifierFromPem } from '../shared/signing/index.js';
import { CONNECTION_RECEIVE_WINDOW_BYTES, RECEIVE_WINDOW_BYTES, startStorageServer, type StorageServer } from '../agent/storage/storage-server.js';
import { tempRemoteRoot, testContext } from './support/storage-harness.js';
import { requireOpenssl } from './support/storage-tls.js';
import { makeRolePki } from './support/role-pki.js';

/** The client's view once the server's SETTINGS and first WINDOW_UPDATE have come: what it may send. */
async function windowsOffered(session: ClientHttp2Session): Promise<{ stream: number; connection: number }> {
  try {
    const settings = await new Promise<{ initialWindowSize?: number }>((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
    // The connection's WINDOW_UPDATE follows the SETTINGS frame; a ping's answer comes after both.
    await new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));
    return { stream: settings.initialWindowSize ?? 65_535, connection: session.state.remoteWindowSize ?? 0 };
  } finally {
    session.destroy();
  }
}

describe('storage agent HTTP/2 receive windows', () => {
  before(requireOpenssl);
  let root: string;
  const servers: StorageServer[] = [];

  before(async () => {
    root = await tempRemoteRoot();
  });
  after(async () => {
    for (const server of servers) await server.close();
    await rm(root, { recursive: true, force: true });
  });

  test('plaintext: the stream and the connection windows are widened', async () => {
    const ctx = testContext(join(root, 'plain'));
    await ctx.layout.ensure();
    const server = await startStorageServer(ctx, { host: '127.0.0.1', port: 0 }, { insecure: true });
    servers.push(server);
    const offered = await windowsOffered(connect(`http://${server.address}`));
    assert.equal(offered.stream, RECEIVE_WINDOW_BYTES);
    assert.equal(offered.connection, CONNECTION_RECEIVE_WINDOW_BYTES);
  });

  test('mutual TLS: the same windows', async () => {
    const pki = await makeRolePki(root);
    const [serverCert, clientCert] = await Promise.all([pki.issue({ role: 'storage', name: 'test-remote' }, { server: true }), pki.issue({ role: 'coordinator', name: '' })]);
    const ctx = testContext(join(root, 'tls'));
    await ctx.layout.ensure();
    const coordinatorKey = verifierFromPem(generateSigningKeyPair().publicPem, 'test');
    const server = await startStorageServer(ctx, { host: '127.0.0.1', port: 0 }, tlsSchema.parse({ ca: pki.ca.cert, ...serverCert }), coordinatorKey);
    servers.push(server);
    const [ca, cert, key] = await Promise.all([pki.ca.cert, clientCert.cert, clientCert.key].map((path) => readFile(path)));
    const offered = await windowsOffered(connect(`https://localhost:${server.port}`, { ca, cert, key, ALPNProtocols: ['h2'] }));
    assert.equal(offered.stream, RECEIVE_WINDOW_BYTES);
    assert.equal(offered.connection, CONNECTION_RECEIVE_WINDOW_BYTES);
  });
});
