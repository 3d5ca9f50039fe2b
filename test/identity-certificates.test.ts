// The identity in a client certificate reaches a gRPC server as the TLS handshake proved it
// (shared/identity/peer-identity.ts), through real grpc-js on loopback with openssl-made certificates.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ChannelCredentials, Server, ServerCredentials, makeGenericClientConstructor, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { peerIdentity, type Identity } from '../shared/identity/index.js';
import { makeRolePki, type CertFiles, type RolePki } from './support/role-pki.js';

const service: ServiceDefinition = {
  whoAmI: {
    path: '/test.Identity/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: Buffer) => v,
    requestDeserialize: (v: Buffer) => v,
    responseSerialize: (v: Buffer) => v,
    responseDeserialize: (v: Buffer) => v,
  },
};

describe('identities proved by TLS', () => {
  let folder: string;
  let pki: RolePki;
  let server: Server;
  let port: number;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'dc-identity-'));
    pki = await makeRolePki(folder);
    const serverCert = await pki.issue({ role: 'storage', name: 'nas' }, { server: true });
    server = new Server();
    server.addService(service, {
      whoAmI: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        callback(null, Buffer.from(JSON.stringify(peerIdentity(call) ?? null)));
      },
    });
    const credentials = ServerCredentials.createSsl(await readFile(pki.ca.cert), [{ cert_chain: await readFile(serverCert.cert), private_key: await readFile(serverCert.key) }], true);
    port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (e, p) => (e ? reject(e) : resolve(p))));
  });
  after(async () => {
    server.forceShutdown();
    await rm(folder, { recursive: true, force: true });
  });

  async function ask(client: CertFiles | undefined): Promise<Identity | null> {
    const Client = makeGenericClientConstructor(service, 'Identity');
    const credentials = ChannelCredentials.createSsl(await readFile(pki.ca.cert), client ? await readFile(client.key) : null, client ? await readFile(client.cert) : null);
    const c = new Client(`127.0.0.1:${port}`, credentials);
    try {
      return await new Promise((resolve, reject) =>
        (c as unknown as { whoAmI: (r: Buffer, cb: (e: Error | null, v: Buffer) => void) => void }).whoAmI(Buffer.alloc(0), (e, v) => (e ? reject(e) : resolve(JSON.parse(v.toString())))),
      );
    } finally {
      c.close();
    }
  }

  test('a host agent’s certificate is seen as host:<pool>, an operator’s as operator:<name>', async () => {
    assert.deepEqual(await ask(await pki.issue({ role: 'host', name: 'lab' })), { role: 'host', name: 'lab' });
    assert.deepEqual(await ask(await pki.issue({ role: 'operator', name: 'alice' })), { role: 'operator', name: 'alice' });
    assert.deepEqual(await ask(await pki.issue({ role: 'coordinator', name: '' })), { role: 'coordinator', name: '' });
  });

  test('a certificate without an identity has none; no certificate, or one from another CA, is refused by TLS', async () => {
    assert.equal(await ask(await pki.issue(undefined)), null);
    await assert.rejects(ask(undefined), /UNAVAILABLE/);
    await assert.rejects(ask(await pki.issue({ role: 'host', name: 'lab' }, { issuer: pki.stranger })), /UNAVAILABLE/);
  });
});
