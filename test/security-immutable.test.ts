// Attacks on backups already written (docs/security.md, "Backups nobody can rewrite"), against a
// real storage agent process serving mutual TLS, with real role certificates and grants signed by
// the coordinator's key: the attacker holds a valid host-agent certificate and valid write grants
// (the strongest data-plane attacker; without them every call is refused, security-dataplane).
//   * a second upload of an already-uploaded backup id (uncommitted, then committed);
//   * the re-upload of a deleted backup's id under a committed child (its files gone), and the
//     re-commit of a deleted backup whose disk is kept for its child;
//   * a commit whose footer uuid, virtual size or digest differs from what was received.
// Each is refused, and every file of the remote is byte for byte what it was before.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { channelCredentials } from '../shared/grpc/credentials.js';
import { StorageClient } from '../shared/grpc/storage-client.js';
import { GrantAction, encodeSignedGrant, signGrant } from '../shared/grants/index.js';
import { generateSigningKeyPair, signerFromPem, type Signer } from '../shared/signing/index.js';
import { hasOpenssl } from './support/storage-tls.js';
import { makeRolePki, type CertFiles, type RolePki } from './support/role-pki.js';
import { startAgentProcess, type AgentProcess } from './support/storage-agent-process.js';
import { startTestNats, type TestNats } from './support/storage-nats.js';
import { BLOCK, diskHeader, patternBlocks, records } from './support/storage-harness.js';

const openssl = await hasOpenssl();
const VM = randomUUID();
const REMOTE = 'nas';

/** Every file under `root` with the SHA-256 of its bytes, for "nothing changed" checks. */
async function snapshotTree(root: string): Promise<Record<string, string>> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const out: Record<string, string> = {};
  for (const e of entries.filter((entry) => entry.isFile()).sort((a, b) => join(a.parentPath, a.name).localeCompare(join(b.parentPath, b.name)))) {
    const path = join(e.parentPath, e.name);
    out[relative(root, path)] = createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return out;
}

describe('backups nobody can rewrite', { skip: openssl ? false : 'openssl is not installed (needed to make test certificates)' }, () => {
  let folder: string;
  let root: string;
  let pki: RolePki;
  let nats: TestNats;
  let agent: AgentProcess;
  let coordinatorKey: Signer;
  let host: StorageClient;
  let hostCert: CertFiles;
  /** The coordinator's view of the remote (ListBackups is the coordinator's call). */
  let lister: StorageClient;
  const footers = new Map<string, string>();

  const grant = (backupId: string): { grant: Uint8Array } => ({
    grant: encodeSignedGrant(
      signGrant(coordinatorKey, {
        action: GrantAction.GRANT_ACTION_WRITE,
        remoteId: REMOTE,
        vmUuid: VM,
        backupId,
        diskKeys: [],
        holder: 'host:lab',
        expiresAtMs: Date.now() + 600_000,
        taskId: randomUUID(),
      }),
    ),
  });
  const disk = (id: string) => join(root, 'vms', VM, 'disks', 'xvda', `${id}.vhd`);
  const metadata = (id: string) => join(root, 'vms', VM, 'backups', `${id}.json`);

  /** Uploads `id` (a delta on `parent` when given) with `seed`'s data; returns the footer uuid. */
  async function upload(id: string, parent: string | undefined, seed: number, client = host): Promise<void> {
    const header = diskHeader({ vmUuid: VM, backupId: id, virtualSize: 4 * BLOCK, parentFooterUuid: parent === undefined ? '' : footers.get(parent)!, ...(footers.has(id) ? { footerUuid: footers.get(id)! } : {}) });
    footers.set(id, header.footerUuid);
    await client.putDisk(header, patternBlocks(seed, parent === undefined ? [0, 1, 2, 3] : [seed % 4]), grant(id));
  }
  const commit = (id: string, client = host, sentDisks?: Parameters<StorageClient['commitBackup']>[0]['sentDisks']) =>
    client.commitBackup({ backupId: id, vmUuid: VM, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(VM), policyJson: '{"id":"p"}', diskSources: [], ...(sentDisks ? { sentDisks } : {}) }, grant(id));

  /** `attack` is refused with `code` and a message matching `reason`; no file of the remote changed. */
  async function refused(attack: () => Promise<unknown>, code: status, reason: RegExp): Promise<void> {
    const beforeTree = await snapshotTree(root);
    const listed = (await lister.listBackups(VM)).map((b) => b.backupId);
    await assert.rejects(attack(), (error: { code?: number; details?: string; message: string }) => {
      assert.equal(error.code, code, error.message);
      assert.match(error.details ?? error.message, reason);
      return true;
    });
    assert.deepEqual(await snapshotTree(root), beforeTree, 'every file of the remote is as it was');
    assert.deepEqual((await lister.listBackups(VM)).map((b) => b.backupId), listed, 'the remote lists the same backups');
  }

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'dc-security-immutable-'));
    root = join(folder, 'remote');
    pki = await makeRolePki(folder);
    const storageCert = await pki.issue({ role: 'storage', name: REMOTE }, { server: true, file: 'storage' });
    hostCert = await pki.issue({ role: 'host', name: 'lab' }, { file: 'host-lab' });
    const pair = generateSigningKeyPair();
    coordinatorKey = signerFromPem(pair.privatePem, 'coordinator');
    await writeFile(join(folder, 'coordinator.pub'), pair.publicPem);
    nats = await startTestNats();
    agent = await startAgentProcess({
      folder, root, remoteId: REMOTE, namespace: nats.namespace,
      dataPlane: { tls: { ca: pki.ca.cert, ...storageCert }, coordinatorKey: join(folder, 'coordinator.pub') },
    });
    host = newClient();
    const coordinatorCert = await pki.issue({ role: 'coordinator', name: '' }, { file: 'coordinator' });
    lister = new StorageClient(agent.address, channelCredentials({ ca: pki.ca.cert, ...coordinatorCert, insecure: false }));
    clients.push(lister);
    // The legitimate chain: b1 (full) ← b2 ← b3, committed; b4 received, not committed yet.
    await upload('b1', undefined, 1);
    await commit('b1');
    await upload('b2', 'b1', 2);
    await commit('b2');
    await upload('b3', 'b2', 3);
    await commit('b3');
    await upload('b4', 'b3', 5);
  });

  const clients: StorageClient[] = [];
  function newClient(): StorageClient {
    const c = new StorageClient(agent.address, channelCredentials({ ca: pki.ca.cert, ...hostCert, insecure: false }));
    clients.push(c);
    return c;
  }

  after(async () => {
    for (const c of clients) c.close();
    await agent?.kill('SIGTERM');
    await nats?.close();
    await rm(folder, { recursive: true, force: true });
  });

  test('a second upload of a received, uncommitted backup id is refused; the first file stays', async () => {
    const first = await readFile(disk('b4'));
    await refused(() => upload('b4', 'b3', 6, newClient()), status.FAILED_PRECONDITION, /already received; a received disk is never replaced/);
    assert.ok((await readFile(disk('b4'))).equals(first));
  });

  test('a second upload of a committed backup id is refused', async () => {
    await refused(() => upload('b2', 'b1', 7, newClient()), status.FAILED_PRECONDITION, /already committed/);
  });

  test('a commit whose footer uuid, virtual size or digest differs from the received file is refused', async () => {
    const sent = { diskKey: 'xvda', footerUuid: footers.get('b4')!, virtualSize: 4 * BLOCK, digest: Buffer.alloc(32) };
    const other = newClient(); // knows nothing it streamed: only what the request says
    await refused(() => commit('b4', other, [{ ...sent, footerUuid: randomUUID() }]), status.FAILED_PRECONDITION, /not what was sent \(footer uuid/);
    await refused(() => commit('b4', other, [{ ...sent, virtualSize: 8 * BLOCK }]), status.FAILED_PRECONDITION, /not what was sent .*virtual size/);
    await refused(() => commit('b4', other, [sent]), status.FAILED_PRECONDITION, /not what was sent \(digest/);
    await refused(() => commit('b4', other), status.INVALID_ARGUMENT, /sent_disks lacks disk xvda/);
  });

  test('a deleted backup whose disk its child still needs is never committed again (its records would change)', async () => {
    // What deleting b2 leaves: its metadata gone, its disk kept because b3 (committed) needs it.
    await unlink(metadata('b2'));
    await refused(() => commit('b2'), status.FAILED_PRECONDITION, /part of a committed chain already/);
    await refused(() => upload('b2', 'b1', 8, newClient()), status.FAILED_PRECONDITION, /already received/);
  });

  test("the re-upload of a deleted backup's id under a committed child is refused", async () => {
    // b2's files gone altogether (as a forged delete or an intruder on the remote would leave it):
    // b3 still names b2.vhd and its footer uuid as its parent.
    await unlink(disk('b2'));
    await unlink(`${disk('b2')}.sums`);
    await refused(() => upload('b2', 'b1', 9, newClient()), status.FAILED_PRECONDITION, /names b2\.vhd .* as its parent; a missing parent is never filled/);
    // Under another id with b2's footer uuid: b3's parent reference names the uuid too.
    const header = diskHeader({ vmUuid: VM, backupId: 'b2x', virtualSize: 4 * BLOCK, footerUuid: footers.get('b2')!, parentFooterUuid: footers.get('b1')! });
    await refused(() => newClient().putDisk(header, patternBlocks(9, [1]), grant('b2x')), status.FAILED_PRECONDITION, /as its parent; a missing parent is never filled/);
  });
});
