// Attacks on the connection to NATS, against real nats-servers started with the generated
// authorization (lab-nats.ts, as `npm run lab` and `deltachain nats-config` make it): one with
// TLS (a certificate from the test PKI), one requiring client certificates, one in plaintext (a
// server an attacker put in the path). Each shows the connection refused and that the attacker
// got nowhere; and that the right client gets through.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { ProcessSupervisor, startLabNats, type LabNats } from '../lab/story/index.js';
import { connectNats, createUserKey, ensureStreams, natsNames, natsSchema, writeSeedFile } from '../shared/nats/index.js';
import { makeRolePki, type CertFiles, type RolePki } from './support/role-pki.js';

const NAMESPACE = 'sec-conn';
const names = natsNames(NAMESPACE);

describe('security: the connection to NATS', { timeout: 120_000 }, () => {
  let folder: string;
  let supervisor: ProcessSupervisor;
  let pki: RolePki;
  let serverCert: CertFiles;
  let tlsServer: LabNats;
  let mtlsServer: LabNats;
  let plainServer: LabNats;

  const config = (server: LabNats, o: Record<string, unknown> = {}) => natsSchema.parse({ servers: [server.url], namespace: NAMESPACE, seedFile: server.seedOf('coordinator'), ...o });
  const connect = (server: LabNats, o: Record<string, unknown> = {}) => connectNats(config(server, o), 'security-test', { inboxPrefix: names.coordinatorInbox });

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'dc-sec-nats-'));
    supervisor = new ProcessSupervisor(join(folder, 'logs'));
    pki = await makeRolePki(folder);
    serverCert = await pki.issue(undefined, { server: true, file: 'nats-server' });
    const start = (name: string, tls?: { cert: string; key: string; ca?: string }) =>
      startLabNats({ folder: join(folder, name), namespace: NAMESPACE, pools: ['lab'], remotes: [], supervisor, name, ...(tls ? { tls } : {}) });
    [tlsServer, mtlsServer, plainServer] = await Promise.all([start('tls', serverCert), start('mtls', { ...serverCert, ca: pki.ca.cert }), start('plain')]);
  });
  after(async () => {
    await supervisor?.stopAll();
    await rm(folder, { recursive: true, force: true });
  });

  it('with nats.tls the client talks TLS to the server its CA vouches for, and does its work', async () => {
    const nc = await connect(tlsServer, { tls: { ca: pki.ca.cert } });
    try {
      assert.equal(nc.info?.tls_required, true);
      await ensureStreams(nc, names);
    } finally {
      await nc.close();
    }
  });

  it('a server whose certificate no trusted CA signed is refused', async () => {
    await assert.rejects(connect(tlsServer, { tls: { ca: pki.stranger.cert } }), /certificate|self[- ]signed|unable to verify/i);
    await assert.rejects(connect(tlsServer, { tls: {} }), /certificate|self[- ]signed|unable to verify/i, 'nor with the system CAs');
  });

  it('a client with nats.tls refuses a plaintext server instead of downgrading', async () => {
    await assert.rejects(connect(plainServer, { tls: { ca: pki.ca.cert } }), /does not support 'tls'/);
  });

  it('a server that requires client certificates refuses a client without one', async () => {
    // TLS 1.3: the client hears of the refusal only as silence; the server says why.
    await assert.rejects(connectNats(config(mtlsServer, { tls: { ca: pki.ca.cert } }), 'no-certificate', { timeoutMs: 2000 }), /timeout/i);
    assert.match(await readFile(mtlsServer.process.logFile, 'utf8'), /TLS handshake error: tls: client didn't provide a certificate/);
    const client = await pki.issue({ role: 'coordinator', name: '' });
    const nc = await connect(mtlsServer, { tls: { ca: pki.ca.cert, ...client } });
    await nc.close();
  });

  it('without credentials, or with an nkey the authorization does not name, the server refuses the connection', async () => {
    await assert.rejects(connectNats(natsSchema.parse({ servers: [plainServer.url], namespace: NAMESPACE, insecure: true }), 'anonymous'), /Authorization Violation/i);
    const stranger = join(folder, 'stranger.nk');
    await writeSeedFile(stranger, createUserKey());
    await assert.rejects(connectNats(natsSchema.parse({ servers: [plainServer.url], namespace: NAMESPACE, seedFile: stranger }), 'stranger'), /Authorization Violation/i);
    // and nothing was made by them: the coordinator finds no streams yet on that server
    const nc = await connect(plainServer);
    try {
      await assert.rejects((await jetstreamManager(nc)).streams.info(names.tasksStream), /stream not found/i);
    } finally {
      await nc.close();
    }
  });
});
