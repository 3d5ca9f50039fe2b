// Chain digests and damaged backups in the catalogue, on a real Postgres: digests recorded by
// every path that records backups (one at a time, batches, scans filling in what is missing)
// and read for a restore task; damage marked from verify results and from restores that failed
// on the data, listed with the backups; and a chain holding a damaged backup planned full at
// dispatch, naming it. One fresh database for the file.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as catalogue from '../coordinator/catalogue/index.js';
import type { BackupFacts, TaskRecord } from '../coordinator/catalogue/index.js';
import type { TaskOutput } from '../coordinator/events/agent-event.js';
import { prepareDispatches } from '../coordinator/dispatch/prepare-dispatch.js';
import { queueTask } from '../coordinator/dispatch/queue-task.js';
import { applyFailureEffects, applyTaskEffects } from '../coordinator/events/task-effects.js';
import { encodeTask } from '../coordinator/dispatch/task-envelope.js';
import { DEFAULT_TASK_LIMITS } from '../coordinator/lifecycle/index.js';
import { parsePolicySettings } from '../coordinator/policy/index.js';
import { Task } from '../shared/proto/gen/deltachain/tasks/v1/task.js';
import { createTestDatabase, type TestDatabase } from './support/pg-database.js';

const VM = '11111111-1111-4111-8111-111111111111';
const now = new Date('2024-06-01T00:00:00Z');
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const digest = (n: number) => n.toString(16).padStart(2, '0').repeat(32);
const noLookup = { findBackup: async () => undefined };

/** A backup of VM with disks xvda and xvdb: [footer, parent footer | null, chain digest | ''] each. */
function facts(id: string, day: number, disks: Record<string, [number, number | null, string]>, remote = 'nas'): BackupFacts {
  return {
    id, vmUuid: VM, remote, takenAt: new Date(Date.UTC(2024, 0, day)), metadataPath: `vms/${VM}/backups/${id}.json`,
    disks: Object.entries(disks).map(([diskKey, [footer, parent, chainDigest]]) => ({
      diskKey, file: `vms/${VM}/disks/${diskKey}/${id}.vhd`, sizeBytes: 1000, virtualSize: 1 << 30,
      footerUuid: uuid(footer), parentFooterUuid: parent === null ? null : uuid(parent), checksum: 'ab', chainDigest,
    })),
  };
}

describe('chain digests and damaged backups in the catalogue', () => {
  let db: TestDatabase;
  const damageOf = async (remote: string) =>
    Object.fromEntries((await catalogue.listBackups(db.sql, { vmUuid: VM, remote })).map((b) => [b.id, b.damage.map((d) => `${d.diskKey} ${d.file} [${d.blocks.join(',')}] ${d.foundBy}`)]));
  const task = (kind: 'verify' | 'restore', backupId: string, remote = 'nas') =>
    queueTask(db.sql, { id: randomUUID(), ...(kind === 'verify' ? { kind, addressKind: 'remote' as const, address: remote, payload: { backupId } } : { kind, addressKind: 'pool' as const, address: 'lab', payload: { backupId, srUuid: uuid(99), name: '' } }), remoteName: remote, vmUuid: VM }, DEFAULT_TASK_LIMITS, now);

  before(async () => {
    db = await createTestDatabase();
    await catalogue.addPool(db.sql, { name: 'lab' });
    await catalogue.addRemote(db.sql, { name: 'nas' });
    await catalogue.addRemote(db.sql, { name: 'offsite' });
    // nas: n1 full, n2 and n3 deltas (batch path); offsite: o1 without digests (one-at-a-time path).
    await db.sql.begin(async (tx) => {
      await catalogue.recordBackups(tx, [facts('n1', 1, { xvda: [1, null, digest(1)], xvdb: [11, null, digest(11)] })], now);
      await catalogue.recordBackups(tx, [facts('n2', 2, { xvda: [2, 1, digest(2)], xvdb: [12, 11, digest(12)] })], now);
      await catalogue.recordBackups(tx, [facts('n3', 3, { xvda: [3, 2, digest(3)], xvdb: [13, 12, digest(13)] })], now);
      await catalogue.recordBackup(tx, facts('o1', 1, { xvda: [1, null, ''], xvdb: [11, null, ''] }, 'offsite'), now);
    });
  });
  after(() => db.drop());

  it('records the chain digest of every disk, batched or one at a time, and reads them for a restore', async () => {
    assert.deepEqual(await catalogue.chainDigestsOf(db.sql, 'nas', 'n2'), { xvda: digest(2), xvdb: digest(12) });
    assert.deepEqual(await catalogue.chainDigestsOf(db.sql, 'offsite', 'o1'), {}, 'a backup recorded without digests has none');
    await db.sql.begin((tx) => catalogue.recordBackup(tx, facts('n9', 9, { xvda: [9, null, digest(9)] }, 'offsite'), now));
    assert.deepEqual(await catalogue.chainDigestsOf(db.sql, 'offsite', 'n9'), { xvda: digest(9) });
  });

  it('a scan fills in missing digests of known backups and never replaces one (a differing digest is reported, not taken)', async () => {
    const report = await catalogue.adoptRemoteScan(db.sql, 'offsite', [
      facts('o1', 1, { xvda: [1, null, digest(21)], xvdb: [11, null, ''] }, 'offsite'),
      facts('n9', 9, { xvda: [9, null, digest(22)] }, 'offsite'),
    ], now);
    assert.deepEqual(report.known, ['o1']);
    assert.deepEqual(report.mismatched, ['n9'], 'the remote says another chain digest than the catalogue: reported');
    assert.deepEqual(await catalogue.chainDigestsOf(db.sql, 'offsite', 'o1'), { xvda: digest(21) });
    assert.deepEqual(await catalogue.chainDigestsOf(db.sql, 'offsite', 'n9'), { xvda: digest(9) });
  });

  it('refuses a chain digest that is not 64 hex characters', async () => {
    await assert.rejects(db.sql.begin((tx) => catalogue.recordBackup(tx, facts('bad', 10, { xvda: [30, null, 'xyz'] }), now)), /chain_digest/);
    assert.equal((await catalogue.listBackups(db.sql, { vmUuid: VM, remote: 'nas' })).some((b) => b.id === 'bad'), false, 'nothing was recorded');
  });

  it('a restore task carries the digests as 32 bytes per disk', async () => {
    const record = { id: randomUUID(), runId: null, kind: 'restore', addressKind: 'pool', address: 'lab', remoteName: 'nas', vmUuid: VM, attempt: 1, createdAt: now, deadlineAt: now,
      payload: { backupId: 'n2', srUuid: uuid(99), name: '', storageAddress: '127.0.0.1:1', expectedChainDigests: await catalogue.chainDigestsOf(db.sql, 'nas', 'n2') } } as unknown as TaskRecord;
    const decoded = Task.decode(encodeTask(record));
    assert.ok(decoded.payload?.$case === 'restore');
    assert.deepEqual(Object.fromEntries(Object.entries(decoded.payload.value.expectedChainDigests).map(([k, v]) => [k, Buffer.from(v).toString('hex')])), { xvda: digest(2), xvdb: digest(12) });
  });

  it("a verify result's damaged backups are marked with file and blocks; verifying again updates, never duplicates", async () => {
    const verify = await task('verify', 'n2');
    const file = `vms/${VM}/disks/xvda/n2.vhd`;
    const output: TaskOutput = {
      kind: 'verify', ok: false, blocksChecked: 10, badBlocks: 1, problems: [], badBlockList: [{ diskKey: 'xvda', path: file, index: 4, reason: 'checksum mismatch' }],
      damaged: [
        { backupId: 'n2', diskKey: 'xvda', file, blocks: [4], reason: 'checksum mismatch' },
        { backupId: 'n3', diskKey: 'xvda', file, blocks: [4], reason: 'checksum mismatch' },
        { backupId: 'gone', diskKey: 'xvda', file, blocks: [4], reason: 'a backup the catalogue lacks is skipped' },
      ],
    };
    const stored = await db.sql.begin((tx) => applyTaskEffects(tx, verify, output, noLookup, now)) as { damaged: unknown[]; badBlockList?: unknown };
    assert.equal(stored.damaged.length, 3);
    assert.equal(stored.badBlockList, undefined, 'the stored result keeps the findings, not the raw list');
    assert.deepEqual(await damageOf('nas'), { n1: [], n2: [`xvda ${file} [4] verify`], n3: [`xvda ${file} [4] verify`] });
    const again = { ...output, damaged: [{ backupId: 'n2', diskKey: 'xvda', file, blocks: [4, 7], reason: 'checksum mismatch' }] };
    await db.sql.begin((tx) => applyTaskEffects(tx, verify, again, noLookup, new Date(now.getTime() + 1000)));
    const [n2] = (await catalogue.listBackups(db.sql, { vmUuid: VM, remote: 'nas' })).filter((b) => b.id === 'n2');
    assert.deepEqual(n2!.damage.map((d) => [d.blocks, Date.parse(d.lastFoundAt) - Date.parse(d.firstFoundAt)]), [[[4, 7], 1000]]);
  });

  it('a storage agent that names no damaged backups: the verified backup is marked from its bad blocks and problems', async () => {
    const verify = await task('verify', 'o1', 'offsite');
    const output: TaskOutput = {
      kind: 'verify', ok: false, blocksChecked: 3, badBlocks: 2, damaged: [], problems: ['disk xvdb: the chain of x.vhd does not reach a full disk'],
      badBlockList: [{ diskKey: 'xvda', path: 'f.vhd', index: 1, reason: 'checksum mismatch' }, { diskKey: 'xvda', path: 'f.vhd', index: 2, reason: 'block missing' }],
    };
    const stored = await db.sql.begin((tx) => applyTaskEffects(tx, verify, output, noLookup, now)) as { damaged: { reason: string }[] };
    assert.equal(stored.damaged[0]!.reason, 'checksum mismatch; block missing');
    assert.deepEqual((await damageOf('offsite')).o1, ['xvda f.vhd [1,2] verify', 'xvdb  [] verify']);
  });

  it('a restore that failed on the data marks the disk it names; other failures mark nothing', async () => {
    const restore = await task('restore', 'n1');
    const message = `backup n1 of VM ${VM} on remote nas, disk xvdb: the data read from the remote does not match the chain digest …`;
    await db.sql.begin((tx) => applyFailureEffects(tx, restore, { code: 'STORAGE_CALL_FAILED', message, retryable: true }, now));
    assert.deepEqual((await damageOf('nas')).n1, []);
    await db.sql.begin((tx) => applyFailureEffects(tx, restore, { code: 'RESTORE_DIGEST_MISMATCH', message, retryable: false }, now));
    assert.deepEqual((await damageOf('nas')).n1, ['xvdb  [] restore']);
  });

  it('dispatch plans a full of each disk whose chain holds a damaged backup, naming the oldest one', async () => {
    await catalogue.editRemote(db.sql, 'nas', { address: '127.0.0.1:1' });
    const policyId = randomUUID();
    await catalogue.insertPolicy(db.sql, policyId, parsePolicySettings({ name: 'nightly', selection: { vmUuids: [VM] }, remotes: ['nas'], schedule: { cron: '0 2 * * *', timeZone: 'UTC' }, retention: 30, fullInterval: 0 }), now);
    await catalogue.setReference(db.sql, { policyId, vmUuid: VM, remote: 'nas', snapshotUuid: uuid(50), vdis: { xvda: uuid(3), xvdb: uuid(13) }, takenAt: now }, now);
    const tails = (await catalogue.chainTailsOf(db.sql, [{ vmUuid: VM, remote: 'nas' }])).get(catalogue.chainKey(VM, 'nas'));
    assert.deepEqual(tails, { xvda: { footerUuid: uuid(3), position: 2, damagedBackupId: 'n2' }, xvdb: { footerUuid: uuid(13), position: 2, damagedBackupId: 'n1' } });
    assert.deepEqual(await catalogue.chainTails(db.sql, VM, 'nas'), tails, 'the one-VM view agrees');
    const backup = await queueTask(db.sql, { id: randomUUID(), kind: 'backup', addressKind: 'pool', address: 'lab', remoteName: 'nas', vmUuid: VM, payload: { policyId, policyName: 'nightly', retention: 30, backupId: 'n4', vmName: 'web', forceFull: false } }, DEFAULT_TASK_LIMITS, now);
    const prepared = (await prepareDispatches(db.sql, [backup], () => ({ fullInterval: 0, remotes: [] }))).get(backup.id)!;
    assert.ok(prepared.ok);
    const plan = (prepared.payload as { plan: Record<string, { mode: string; reason: string }> }).plan;
    assert.deepEqual(plan, {
      xvda: { mode: 'full', reason: 'the chain on the remote holds a damaged backup; a new full starts a sound chain (backup n2)' },
      xvdb: { mode: 'full', reason: 'the chain on the remote holds a damaged backup; a new full starts a sound chain (backup n1)' },
    });
  });

  it('a new full starts a chain without damage', async () => {
    await db.sql.begin((tx) => catalogue.recordBackups(tx, [facts('n4', 4, { xvda: [4, null, digest(4)], xvdb: [14, null, digest(14)] })], now));
    assert.deepEqual(await catalogue.chainTails(db.sql, VM, 'nas'), { xvda: { footerUuid: uuid(4), position: 0 }, xvdb: { footerUuid: uuid(14), position: 0 } });
    assert.deepEqual((await damageOf('nas')).n4, []);
  });
});
