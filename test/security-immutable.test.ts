// Attacks on backups already written (docs/security.md, "Backups nobody can rewrite"), against a
// real storage agent process serving mutual TLS, with real role certificates and grants signed by
// the coordinator's key: the attacker holds a valid host-agent certificate and valid write grants
// (the strongest data-plane attacker; without them every call is refused, security-dataplane).
//   * a second upload of an already-uploaded backup id (uncommitted, then committed);
//   * the re-upload of a deleted backup's id under a committed child (its files gone), and the
//     re-commit of a deleted backup whose disk is kept for its child;
//   * a commit whose footer uuid, virtual size or digest differs from what was received.
//   * a backup planted on top of a VM's chain (valid certificate and grant), then a remote scan:
//     never adopted as committed — recorded unverified, not chosen by `restore --at`, no base for
//     a delta; a known backup whose remote digest differs from the catalogue's: reported, left
//     as recorded; a remote the catalogue never saw: unverified until `remote scan --accept`.
// Each is refused, and every file of the remote is byte for byte what it was before; the scans
// run against a real Postgres catalogue fed with the real storage agent's listing (what its scan
// task reports), and the catalogue is row for row what it was, except for the unverified records.
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
import { requireOpenssl } from './support/storage-tls.js';
import { makeRolePki, type CertFiles, type RolePki } from './support/role-pki.js';
import { startAgentProcess, type AgentProcess } from './support/storage-agent-process.js';
import { startTestNats, type TestNats } from './support/storage-nats.js';
import { BLOCK, diskHeader, patternBlocks, records } from './support/storage-harness.js';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';
import * as catalogue from '../coordinator/catalogue/index.js';
import { backupFactsFromSummary } from '../coordinator/events/wire-events.js';
import { resolveRestore } from '../coordinator/planner/index.js';

const VM = randomUUID();
/** A VM the catalogue knows (backed up through the coordinator), and one it never saw. */
const KNOWN_VM = randomUUID();
const UNSEEN_VM = randomUUID();
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

describe('backups nobody can rewrite', () => {
  before(requireOpenssl);
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

  const grant = (backupId: string, vmUuid = VM): { grant: Uint8Array } => ({
    grant: encodeSignedGrant(
      signGrant(coordinatorKey, {
        action: GrantAction.GRANT_ACTION_WRITE,
        remoteId: REMOTE,
        vmUuid,
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
  async function upload(id: string, parent: string | undefined, seed: number, client = host, vmUuid = VM): Promise<void> {
    const header = diskHeader({ vmUuid, backupId: id, virtualSize: 4 * BLOCK, parentFooterUuid: parent === undefined ? '' : footers.get(parent)!, ...(footers.has(id) ? { footerUuid: footers.get(id)! } : {}) });
    footers.set(id, header.footerUuid);
    await client.putDisk(header, patternBlocks(seed, parent === undefined ? [0, 1, 2, 3] : [seed % 4]), grant(id, vmUuid));
  }
  const commit = (id: string, client = host, sentDisks?: Parameters<StorageClient['commitBackup']>[0]['sentDisks'], vmUuid = VM) =>
    client.commitBackup({ backupId: id, vmUuid, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vmUuid), policyJson: '{"id":"p"}', diskSources: [], ...(sentDisks ? { sentDisks } : {}) }, grant(id, vmUuid));

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

  describe('a remote scan adopts only what the catalogue vouches for', () => {
    let db: TestDatabase;
    /** What the storage agent's scan reports for these VMs, as catalogue facts. */
    const scanned = async (...vms: string[]) => (await Promise.all(vms.map((vm) => lister.listBackups(vm)))).flat().map((b) => backupFactsFromSummary(b, REMOTE));
    const rows = async () => ({
      backups: [...(await db.sql`select key, id, vm_uuid, status, deleted_at from backups order by key`)],
      disks: [...(await db.sql`select id, backup_key, chain_id, position, parent_id, state, checksum, chain_digest from disks order by id`)],
    });
    const restoreChoice = async (vm: string) => {
      const candidates = await catalogue.listBackups(db.sql, { vmUuid: vm, remote: REMOTE });
      const resolved = resolveRestore(candidates.map((b) => ({ id: b.id, vmUuid: b.vmUuid, remote: b.remoteName, takenAt: b.takenAt, status: b.status })), vm, REMOTE, new Date(Date.now() + 86_400_000));
      return resolved.ok ? resolved.backup.id : undefined;
    };

    before(async () => {
      db = await createTestDatabase();
      await catalogue.addRemote(db.sql, { name: REMOTE });
      // KNOWN_VM: k1 (full) ← k2, backed up and recorded as the coordinator records backup results.
      await upload('k1', undefined, 11, host, KNOWN_VM);
      await commit('k1', host, undefined, KNOWN_VM);
      await upload('k2', 'k1', 12, host, KNOWN_VM);
      await commit('k2', host, undefined, KNOWN_VM);
      await db.sql.begin(async (tx) => {
        for (const facts of await scanned(KNOWN_VM)) await catalogue.recordBackup(tx, facts, new Date());
      });
      // UNSEEN_VM: u1 ← u2 on the remote, never recorded (a catalogue lost, or a remote planted whole).
      await upload('u1', undefined, 21, host, UNSEEN_VM);
      await commit('u1', host, undefined, UNSEEN_VM);
      await upload('u2', 'u1', 22, host, UNSEEN_VM);
      await commit('u2', host, undefined, UNSEEN_VM);
    });
    after(() => db?.drop());

    test('a planted delta on top of a known chain is recorded unverified: not restored, no base', async () => {
      const attacker = newClient(); // a valid host certificate and a valid grant: the strongest data-plane attacker
      await upload('k3', 'k2', 13, attacker, KNOWN_VM);
      await commit('k3', attacker, undefined, KNOWN_VM);
      const tails = await catalogue.chainTails(db.sql, KNOWN_VM, REMOTE);
      const before = await rows();
      const report = await catalogue.adoptRemoteScan(db.sql, REMOTE, await scanned(KNOWN_VM), new Date());
      assert.deepEqual({ adopted: report.adopted, known: report.known, unverified: report.unverified, mismatched: report.mismatched }, { adopted: [], known: ['k1', 'k2'], unverified: ['k3'], mismatched: [] });
      assert.equal(await restoreChoice(KNOWN_VM), 'k2', 'restore --at never picks the planted backup');
      assert.deepEqual(await catalogue.chainTails(db.sql, KNOWN_VM, REMOTE), tails, 'the next delta still extends k2');
      const after = await rows();
      assert.deepEqual(after.backups.filter((b) => b.id !== 'k3'), before.backups, 'the known backups are as they were');
      assert.equal(after.backups.find((b) => b.id === 'k3')?.status, 'unverified', 'backup list shows it, unverified');
    });

    test('a known backup whose remote digest differs from the catalogue is reported and left as recorded', async () => {
      const facts = await scanned(KNOWN_VM);
      const k2 = facts.find((b) => b.id === 'k2')!;
      k2.disks[0]!.chainDigest = 'ff'.repeat(32); // what a remote whose k2 was rewritten (sums and all) reports
      const before = await rows();
      const report = await catalogue.adoptRemoteScan(db.sql, REMOTE, facts, new Date());
      assert.deepEqual(report.mismatched, ['k2']);
      assert.deepEqual(await rows(), before, 'the catalogue is row for row as it was');
    });

    test("verify finds a backup whose data and sums were rewritten together: the remote's digest differs from the catalogue's", async () => {
      // An intruder on the remote rewrites k1 consistently (what its metadata and sums say), so
      // the storage agent's own check against the sums beside the data passes.
      const path = join(root, 'vms', KNOWN_VM, 'backups', 'k1.json');
      const meta = JSON.parse(await readFile(path, 'utf8')) as { disks: { chainDigest: string }[] };
      const recorded = meta.disks[0]!.chainDigest;
      meta.disks[0]!.chainDigest = `sha256:${'7'.repeat(64)}`;
      await writeFile(path, JSON.stringify(meta));
      const listed = (await scanned(KNOWN_VM)).find((b) => b.id === 'k1')!;
      const before = await rows();
      const findings = await catalogue.catalogueMismatches(db.sql, REMOTE, listed);
      assert.equal(findings.length, 1);
      assert.match(findings[0]!.reason, /the remote's chain digest 7{64} differs from the catalogue's [0-9a-f]{64}: the backup was rewritten on the remote/);
      await catalogue.markDamaged(db.sql, REMOTE, findings, 'verify', null, new Date());
      assert.deepEqual(await rows(), before, "the catalogue's digests are as recorded at commit");
      const damage = await db.sql<{ reason: string }[]>`select reason from disk_damage`;
      assert.equal(damage.length, 1, 'k1 is marked damaged');
      assert.ok(before.disks.some((d) => d.chainDigest === recorded.slice('sha256:'.length)), 'the catalogue keeps the chain digest recorded at commit');
    });

    test('backups of a VM the catalogue never saw stay unverified until an operator accepts them', async () => {
      const report = await catalogue.adoptRemoteScan(db.sql, REMOTE, await scanned(KNOWN_VM, UNSEEN_VM), new Date());
      assert.deepEqual(report.unverified.sort(), ['u1', 'u2']);
      assert.ok(report.known.includes('k3'), 'k3 stays as recorded: unverified');
      assert.deepEqual((await catalogue.listBackups(db.sql, { vmUuid: UNSEEN_VM })).map((b) => [b.id, b.status]), [['u1', 'unverified'], ['u2', 'unverified']]);
      assert.equal(await restoreChoice(UNSEEN_VM), undefined, 'nothing unverified is restorable');
      assert.deepEqual(await catalogue.acceptUnverified(db.sql, REMOTE), ['k3', 'u1', 'u2']);
      assert.equal(await restoreChoice(UNSEEN_VM), 'u2', 'accepted: restorable');
    });
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
