// Attacks on a storage agent's data plane (docs/security.md, "Data plane"), against a real storage
// agent process serving mutual TLS with the coordinator's public key pinned, each with real
// certificates from an openssl CA. A host agent of pool `lab` first backs VM A up with its
// legitimate write grant. Then, one attack per test: upload (PutDisk), commit (CommitBackup) and
// read (GetDisk, GetBackup) without a grant; with a grant for another VM, another backup, another
// remote, an expired one, one signed by another key; with a valid grant shown by another
// identity's certificate (another pool's host agent, an operator); with a certificate without
// identity, none at all, or one from another CA; and the planted delta on top of A's chain.
// Each is refused, and the remote's folder is file for file what it was before.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status, type ChannelCredentials } from '@grpc/grpc-js';
import { channelCredentials } from '../shared/grpc/credentials.js';
import { GetDiskFormat, StorageClient } from '../shared/grpc/storage-client.js';
import { GrantAction, encodeSignedGrant, signGrant, type Grant } from '../shared/grants/index.js';
import type { Identity } from '../shared/identity/index.js';
import { generateSigningKeyPair, signerFromPem, type Signer } from '../shared/signing/index.js';
import { requireOpenssl } from './support/storage-tls.js';
import { makeRolePki, type CertFiles, type RolePki } from './support/role-pki.js';
import { startAgentProcess, type AgentProcess } from './support/storage-agent-process.js';
import { startTestNats, type TestNats } from './support/storage-nats.js';
import { BLOCK, diskHeader, listTree, patternBlocks, records } from './support/storage-harness.js';
import { parseVhdStream } from '../shared/vhd/index.js';

const VM_A = randomUUID();
const VM_B = randomUUID();
const REMOTE = 'nas';

describe('the data plane refuses every call without the right certificate and grant', () => {
  before(requireOpenssl);
  let folder: string;
  let root: string;
  let pki: RolePki;
  let nats: TestNats;
  let agent: AgentProcess;
  let coordinatorKey: Signer;
  let impostorKey: Signer;
  const certs = new Map<string, CertFiles>();
  const clients: StorageClient[] = [];
  /** b1's disk footer uuid: the chain a planted delta would grow. */
  let b1Footer: string;

  const credentials = (name: string | undefined, ca = pki.ca.cert): ChannelCredentials =>
    channelCredentials({ ca, ...(name === undefined ? {} : certs.get(name)!), insecure: false });
  const client = (name: string | undefined, ca?: string): StorageClient => {
    const c = new StorageClient(agent.address, credentials(name, ca), { 'grpc.initial_reconnect_backoff_ms': 100 });
    clients.push(c);
    return c;
  };
  const grant = (overrides: Partial<Grant> = {}, signer = coordinatorKey): Uint8Array =>
    encodeSignedGrant(
      signGrant(signer, {
        action: GrantAction.GRANT_ACTION_WRITE,
        remoteId: REMOTE,
        vmUuid: VM_A,
        backupId: 'b2',
        diskKeys: [],
        holder: 'host:lab',
        expiresAtMs: Date.now() + 600_000,
        taskId: randomUUID(),
        ...overrides,
      }),
    );

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'dc-security-dataplane-'));
    root = join(folder, 'remote');
    pki = await makeRolePki(folder);
    const issue = async (name: string, identity: Identity | undefined, options: { server?: boolean; issuer?: CertFiles } = {}) => certs.set(name, await pki.issue(identity, { ...options, file: name }));
    await Promise.all([
      issue('storage', { role: 'storage', name: REMOTE }, { server: true }),
      issue('host-lab', { role: 'host', name: 'lab' }),
      issue('host-other', { role: 'host', name: 'other' }),
      issue('operator', { role: 'operator', name: 'alice' }),
      issue('viewer', { role: 'viewer', name: 'bob' }),
      issue('coordinator', { role: 'coordinator', name: '' }),
      issue('anonymous', undefined),
      issue('stranger-host-lab', { role: 'host', name: 'lab' }, { issuer: pki.stranger }),
    ]);
    const pair = generateSigningKeyPair();
    coordinatorKey = signerFromPem(pair.privatePem, 'coordinator');
    impostorKey = signerFromPem(generateSigningKeyPair().privatePem, 'impostor');
    await writeFile(join(folder, 'coordinator.pub'), pair.publicPem);
    nats = await startTestNats();
    agent = await startAgentProcess({
      folder, root, remoteId: REMOTE, namespace: nats.namespace,
      dataPlane: { tls: { ca: pki.ca.cert, ...certs.get('storage')! }, coordinatorKey: join(folder, 'coordinator.pub') },
    });
    // The host agent of pool lab backs VM A up with the coordinator's grant: b1, one full disk.
    const host = client('host-lab');
    const b1 = grant({ backupId: 'b1' });
    const header = diskHeader({ vmUuid: VM_A, backupId: 'b1', virtualSize: 4 * BLOCK });
    b1Footer = header.footerUuid;
    await host.putDisk(header, patternBlocks(1, [0, 1, 2, 3]), { grant: b1 });
    await host.commitBackup({ backupId: 'b1', vmUuid: VM_A, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(VM_A), policyJson: '{"id":"p"}', diskSources: [] }, { grant: b1 });
  });

  after(async () => {
    for (const c of clients) c.close();
    await agent?.kill('SIGTERM');
    await nats?.close();
    await rm(folder, { recursive: true, force: true });
  });

  /** A delta on top of b1 (what a planted backup would be), as `who` would send it with `withGrant`. */
  const attempts = (who: string | undefined, withGrant: Uint8Array | undefined, ca?: string) => {
    const c = client(who, ca);
    const options = { grant: withGrant };
    return {
      PutDisk: () => c.putDisk(diskHeader({ vmUuid: VM_A, backupId: 'b2', virtualSize: 4 * BLOCK, parentFooterUuid: b1Footer }), patternBlocks(666, [1]), options),
      CommitBackup: () => c.commitBackup({ backupId: 'b2', vmUuid: VM_A, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(VM_A), policyJson: '{"id":"p"}', diskSources: [] }, options),
      GetDisk: () => c.getDiskParts(VM_A, 'b1', 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS, options).next(),
      GetBackup: () => c.getBackup(VM_A, 'b1', options),
    };
  };

  /** Every call refused with `code` and a message matching `reason`, and the remote unchanged. */
  async function refusedAll(calls: ReturnType<typeof attempts>, code: status, reason: RegExp, only: (keyof ReturnType<typeof attempts>)[] = ['PutDisk', 'CommitBackup', 'GetDisk', 'GetBackup']): Promise<void> {
    const before = await listTree(root);
    for (const rpc of only) {
      await assert.rejects(withTimeout(calls[rpc](), rpc), (error: { code?: number; details?: string; message: string }) => {
        assert.equal(error.code, code, `${rpc}: ${error.message}`);
        assert.match(error.details ?? error.message, reason, rpc);
        return true;
      });
    }
    assert.deepEqual(await listTree(root), before, 'nothing changed on the remote');
    assert.deepEqual((await client('coordinator').listBackups(VM_A)).map((b) => b.backupId), ['b1'], 'the remote still lists b1 only');
  }

  test('the legitimate backup went through, and the coordinator lists it by its role', async () => {
    assert.deepEqual((await client('coordinator').listBackups('')).map((b) => [b.vmUuid, b.backupId]), [[VM_A, 'b1']]);
    assert.equal((await client('coordinator').stat()).backupCount, 1);
    const read = grant({ action: GrantAction.GRANT_ACTION_READ, backupId: 'b1', diskKeys: ['xvda'] });
    const first = await client('host-lab').getDiskParts(VM_A, 'b1', 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS, { grant: read }).next();
    assert.equal(first.value?.$case, 'header', 'a read grant reads the disk');
  });

  test('a restore read over mutual TLS: the VHD stream (its blocks sent as framed in place, uncopied) holds the blocks the disk was written with', async () => {
    const read = grant({ action: GrantAction.GRANT_ACTION_READ, backupId: 'b1', diskKeys: ['xvda'] });
    const blocks = new Map<number, Buffer>();
    for await (const part of client('host-lab').getDiskParts(VM_A, 'b1', 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS, { grant: read })) {
      if (part.$case === 'block') blocks.set(part.value.index, Buffer.from(part.value.data));
    }
    const chunks: Buffer[] = [];
    for await (const part of client('host-lab').getDiskParts(VM_A, 'b1', 'xvda', GetDiskFormat.GET_DISK_FORMAT_VHD, { grant: read })) {
      if (part.$case === 'vhdChunk') chunks.push(Buffer.from(part.value));
    }
    const vhd = await parseVhdStream(chunks);
    let seen = 0;
    for await (const block of vhd.blocks()) {
      assert.ok(block.data.equals(blocks.get(block.index)!), `block ${block.index} as written`);
      seen++;
    }
    assert.equal(seen, 4);
    assert.ok(!agent.logs.some((l) => /framed messages/.test(String(l.msg))), 'the storage agent sends framed messages as they are (no warning that it cannot)');
  });

  test('upload, commit and read without a grant are refused', async () => {
    await refusedAll(attempts('host-lab', undefined), status.PERMISSION_DENIED, /carries no grant/);
  });

  test('a grant for another VM is refused', async () => {
    await refusedAll(attempts('host-lab', grant({ vmUuid: VM_B, backupId: 'b2' })), status.PERMISSION_DENIED, /for VM/, ['PutDisk', 'CommitBackup']);
    await refusedAll(attempts('host-lab', grant({ vmUuid: VM_B, action: GrantAction.GRANT_ACTION_READ, backupId: 'b1' })), status.PERMISSION_DENIED, /for VM/, ['GetDisk', 'GetBackup']);
  });

  test('a grant for another backup is refused', async () => {
    await refusedAll(attempts('host-lab', grant({ backupId: 'b7' })), status.PERMISSION_DENIED, /for backup b7, not b2/, ['PutDisk', 'CommitBackup']);
    await refusedAll(attempts('host-lab', grant({ action: GrantAction.GRANT_ACTION_READ, backupId: 'b7' })), status.PERMISSION_DENIED, /for backup b7, not b1/, ['GetDisk', 'GetBackup']);
  });

  test('a grant for another remote is refused', async () => {
    await refusedAll(attempts('host-lab', grant({ remoteId: 'offsite' })), status.PERMISSION_DENIED, /for remote offsite, not nas/, ['PutDisk', 'CommitBackup']);
    await refusedAll(attempts('host-lab', grant({ remoteId: 'offsite', action: GrantAction.GRANT_ACTION_READ, backupId: 'b1' })), status.PERMISSION_DENIED, /for remote offsite/, ['GetDisk', 'GetBackup']);
  });

  test('an expired grant is refused', async () => {
    await refusedAll(attempts('host-lab', grant({ expiresAtMs: Date.now() - 1000 })), status.PERMISSION_DENIED, /expired/, ['PutDisk', 'CommitBackup']);
    await refusedAll(attempts('host-lab', grant({ expiresAtMs: Date.now() - 1000, action: GrantAction.GRANT_ACTION_READ, backupId: 'b1' })), status.PERMISSION_DENIED, /expired/, ['GetDisk', 'GetBackup']);
  });

  test('a grant signed by another key is refused', async () => {
    await refusedAll(attempts('host-lab', grant({}, impostorKey)), status.PERMISSION_DENIED, /not signed by the coordinator/, ['PutDisk', 'CommitBackup']);
    await refusedAll(attempts('host-lab', grant({ action: GrantAction.GRANT_ACTION_READ, backupId: 'b1' }, impostorKey)), status.PERMISSION_DENIED, /not signed by the coordinator/, ['GetDisk', 'GetBackup']);
  });

  test("a valid grant shown by another pool's host agent is refused", async () => {
    await refusedAll(attempts('host-other', grant()), status.PERMISSION_DENIED, /issued to host:lab, not to host:other/, ['PutDisk', 'CommitBackup']);
    await refusedAll(attempts('host-other', grant({ action: GrantAction.GRANT_ACTION_READ, backupId: 'b1' })), status.PERMISSION_DENIED, /issued to host:lab, not to host:other/, ['GetDisk', 'GetBackup']);
  });

  test("a valid grant shown by an operator's or a viewer's certificate is refused by role", async () => {
    await refusedAll(attempts('operator', grant()), status.PERMISSION_DENIED, /operator:alice may not call it/);
    await refusedAll(attempts('viewer', grant({ holder: 'viewer:bob' })), status.PERMISSION_DENIED, /viewer:bob may not call it/);
    const before = await listTree(root);
    for (const call of [() => client('operator').listBackups(VM_A), () => client('operator').stat(), () => client('host-lab').stat()]) {
      await assert.rejects(call(), (e: { code?: number }) => e.code === status.PERMISSION_DENIED);
    }
    assert.deepEqual(await listTree(root), before);
  });

  test('a certificate from the CA without a Deltachain identity is refused as unauthenticated', async () => {
    await refusedAll(attempts('anonymous', grant()), status.UNAUTHENTICATED, /no certificate with a Deltachain identity/);
  });

  test('no client certificate, or one from another CA, does not get through the handshake', async () => {
    for (const who of [undefined, 'stranger-host-lab']) {
      await refusedAll(attempts(who, grant()), status.UNAVAILABLE, /./);
    }
  });

  test('the planted delta: a CA-signed host certificate cannot put a backup on top of a VM’s chain', async () => {
    // With the write grant of the VM's own earlier task (b1), with a read grant from a restore, or with its own pool's grant for another VM.
    for (const stolen of [grant({ backupId: 'b1' }), grant({ action: GrantAction.GRANT_ACTION_READ, backupId: 'b1', diskKeys: ['xvda'] }), grant({ vmUuid: VM_B })]) {
      await refusedAll(attempts('host-lab', stolen), status.PERMISSION_DENIED, /refused/, ['PutDisk', 'CommitBackup']);
    }
    const refusals = agent.logs.filter((l) => l.msg === 'call refused' && l.rpc === 'PutDisk');
    assert.ok(refusals.length > 0 && refusals.every((l) => typeof l.peer === 'string' && /refused/.test(String(l.reason))), 'the storage agent logged who was refused and why');
  });
});

function withTimeout(promise: Promise<unknown>, what: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within 15 s`)), 15_000)))]).finally(() => clearTimeout(timer));
}
