// The data plane's TLS from config: with cert, key, ca and the coordinator's key, a client whose
// certificate the CA signed is served (as its role allows); a client without one, with one from
// another CA, or in plaintext is refused at the handshake; a client that calls a remote refuses a
// server whose certificate names another. A server with TLS but no CA, or
// without the coordinator's key, does not start unless the config says `insecure: true` — and
// then it serves anyone, which is what `insecure` means.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tlsSchema } from '../shared/config/index.js';
import { ConfigError } from '../shared/errors.js';
import { channelCredentials } from '../shared/grpc/credentials.js';
import { StorageClient } from '../shared/grpc/storage-client.js';
import { generateSigningKeyPair, verifierFromPem, type Verifier } from '../shared/signing/index.js';
import { startStorageServer, type StorageServer } from '../agent/storage/storage-server.js';
import { storageAgentConfigSchema } from '../agent/storage/storage-config.js';
import { tempRemoteRoot, testContext } from './support/storage-harness.js';
import { requireOpenssl } from './support/storage-tls.js';
import { makeRolePki, type CertFiles, type RolePki } from './support/role-pki.js';


function answerWithin<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

describe('storage gRPC over mutual TLS', () => {
  before(requireOpenssl);
  let root: string;
  let pki: RolePki;
  let serverCert: CertFiles;
  let coordinatorCert: CertFiles;
  let strangerCert: CertFiles;
  let coordinatorKey: Verifier;
  const servers: StorageServer[] = [];
  const ctx = () => testContext(join(root, 'remote'));

  before(async () => {
    root = await tempRemoteRoot();
    pki = await makeRolePki(root);
    [serverCert, coordinatorCert, strangerCert] = await Promise.all([
      pki.issue({ role: 'storage', name: 'test-remote' }, { server: true }),
      pki.issue({ role: 'coordinator', name: '' }),
      pki.issue({ role: 'coordinator', name: '' }, { issuer: pki.stranger }),
    ]);
    coordinatorKey = verifierFromPem(generateSigningKeyPair().publicPem, 'test');
    await ctx().layout.ensure();
    servers.push(await startStorageServer(ctx(), { host: '127.0.0.1', port: 0 }, tlsSchema.parse({ ca: pki.ca.cert, ...serverCert }), coordinatorKey));
  });
  after(async () => {
    for (const server of servers) await server.close();
    await rm(root, { recursive: true, force: true });
  });

  const stat = async (port: number, tls: object) => {
    const client = new StorageClient(`localhost:${port}`, channelCredentials(tlsSchema.parse(tls)));
    try {
      return await answerWithin(client.stat());
    } finally {
      client.close();
    }
  };

  test('a client with a certificate from the configured CA is served', async () => {
    assert.equal((await stat(servers[0]!.port, { ca: pki.ca.cert, ...coordinatorCert })).remoteId, 'test-remote');
  });

  test("a client that expects another remote's storage agent at this address refuses the server", async () => {
    const tls = tlsSchema.parse({ ca: pki.ca.cert, ...coordinatorCert });
    const call = async (remoteId: string) => {
      const client = new StorageClient(`localhost:${servers[0]!.port}`, channelCredentials(tls, { role: 'storage', name: remoteId }));
      try {
        return await answerWithin(client.stat());
      } finally {
        client.close();
      }
    };
    assert.equal((await call('test-remote')).remoteId, 'test-remote');
    await assert.rejects(call('offsite'), (e: { code?: number; details?: string }) => e.code === 14 && /is not storage:offsite: its certificate names storage:test-remote/.test(e.details ?? ''));
  });

  for (const [what, tls] of [
    ['no client certificate', (): object => ({ ca: pki.ca.cert })],
    ['a certificate from another CA', (): object => ({ ca: pki.ca.cert, ...strangerCert })],
    ['plaintext', (): object => ({ insecure: true })],
  ] as const) {
    test(`a client with ${what} is refused`, async () => {
      await assert.rejects(stat(servers[0]!.port, tls()), (error: { code?: number; message: string }) => error.code === 14 || /UNAVAILABLE|handshake|certificate/i.test(error.message));
    });
  }

  test('a server with TLS but no CA, or no coordinator key, does not start unless insecure says so', async () => {
    const listen = { host: '127.0.0.1', port: 0 };
    await assert.rejects(startStorageServer(ctx(), listen, tlsSchema.parse({ ...serverCert }), coordinatorKey), (e: unknown) => e instanceof ConfigError && /lacks storage\.tls\.cert, storage\.tls\.key and storage\.tls\.ca/.test(e.message));
    await assert.rejects(startStorageServer(ctx(), listen, tlsSchema.parse({ ca: pki.ca.cert, ...serverCert })), (e: unknown) => e instanceof ConfigError && /lacks trust\.coordinatorKey/.test(e.message));
    const open = await startStorageServer(ctx(), listen, tlsSchema.parse({ ...serverCert, insecure: true }));
    servers.push(open);
    assert.equal((await stat(open.port, { ca: pki.ca.cert })).remoteId, 'test-remote', 'insecure: TLS without client certificates, open to anyone');
  });

  test('the config refuses a storage agent without a CA or the coordinator key, naming the field', () => {
    const config = (storage: object, extra: object = {}) => ({ role: 'storage', agentId: 'a', storage: { remoteId: 'r', root: '/r', ...storage }, ...extra });
    const issues = (raw: object) => {
      const parsed = storageAgentConfigSchema.safeParse(raw);
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.match(issues(config({ tls: serverCert })).join('\n'), /storage\.tls\.ca: a storage agent without a CA would serve anyone/);
    assert.match(issues(config({ tls: { ...serverCert, ca: pki.ca.cert } })).join('\n'), /trust\.coordinatorKey: the coordinator's public key/);
    assert.deepEqual(issues(config({ tls: { ...serverCert, ca: pki.ca.cert } }, { trust: { coordinatorKey: '/k.pub' } })), []);
    assert.match(issues(config({ tls: { insecure: true } })).join('\n'), /trust\.coordinatorKey: the coordinator's public key .* to check the signature on every task; or trust\.insecure: true/);
    assert.deepEqual(issues(config({ tls: { insecure: true } }, { trust: { insecure: true } })), []);
    assert.throws(() => tlsSchema.parse({}), /set insecure: true/);
  });
});
