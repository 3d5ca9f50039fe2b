// The data plane with mutual TLS from config: a client with a certificate from the configured
// CA is served; a client without one, or with one from another CA, is refused; plaintext is
// only possible when the config says `insecure: true`.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tlsSchema } from '../shared/config/index.js';
import { channelCredentials } from '../shared/grpc/credentials.js';
import { StorageClient } from '../shared/grpc/storage-client.js';
import { startStorageServer, type StorageServer } from '../agent/storage/storage-server.js';
import { tempRemoteRoot, testContext } from './support/storage-harness.js';
import { hasOpenssl, makeTestPki, type TestPki } from './support/storage-tls.js';

const openssl = await hasOpenssl();

describe('storage gRPC over mutual TLS', { skip: openssl ? false : 'openssl is not installed (needed to make test certificates)' }, () => {
  let root: string;
  let pki: TestPki;
  let server: StorageServer;
  const address = (): string => `localhost:${server.port}`;

  before(async () => {
    root = await tempRemoteRoot();
    pki = await makeTestPki(root);
    const ctx = testContext(join(root, 'remote'));
    await ctx.layout.ensure();
    server = await startStorageServer(ctx, { host: '127.0.0.1', port: 0 }, tlsSchema.parse({ ca: pki.ca, cert: pki.serverCert, key: pki.serverKey }));
  });
  after(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  test('a client with a certificate from the configured CA is served', async () => {
    const client = new StorageClient(address(), channelCredentials(tlsSchema.parse({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey })));
    try {
      assert.equal((await client.stat()).remoteId, 'test-remote');
    } finally {
      client.close();
    }
  });

  for (const [what, tls] of [
    ['no client certificate', (): object => ({ ca: pki.ca })],
    ['a certificate from another CA', (): object => ({ ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey })],
    ['plaintext', (): object => ({ insecure: true })],
  ] as const) {
    test(`a client with ${what} is refused`, async () => {
      const client = new StorageClient(address(), channelCredentials(tlsSchema.parse(tls())));
      try {
        await assert.rejects(
          Promise.race([client.stat(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 10 s')), 10_000))]),
          (error: { code?: number; message: string }) => error.code === 14 || /UNAVAILABLE|handshake|certificate/i.test(error.message),
        );
      } finally {
        client.close();
      }
    });
  }

  test('the config refuses a server without TLS material unless insecure is explicit', () => {
    assert.throws(() => tlsSchema.parse({}), /set insecure: true/);
  });
});
