// Restores checked end to end by the host agent, on a lab pool and a real storage agent: the
// digest of the VHD stream the host agent imports equals the chain digest by its definition
// (GetDisk BLOCKS's trailer); a disk without an expected digest is restored with a warning; and
// a byte flipped in a stored file fails the restore — naming the backup and disk, not retried —
// with no VM and no VDI of it left on the pool. (Until the storage agent checks the blocks it
// reads, the host agent's digest is what catches it; once it does, its DATA_LOSS comes first.)
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupVm } from '../agent/host/backup/backup-vm.js';
import type { BackupOutcome } from '../agent/host/backup/backup-types.js';
import { restoreVm } from '../agent/host/restore/restore-vm.js';
import { DeltachainError } from '../shared/errors.js';
import { startHostLab, type HostLab } from './support/host-lab.js';
import { startHostRemote, type HostRemote } from './support/host-remote.js';
import { chainDigestOverGrpc, flipStoredByte } from './support/stored-damage.js';

describe('host agent restore: every disk checked against its chain digest', () => {
  let env: HostLab;
  let remote: HostRemote;
  let webUuid: string;
  let srUuid: string;
  const policyId = randomUUID();
  const backups: BackupOutcome[] = [];
  const sources: string[][] = [];

  before(async () => {
    env = await startHostLab();
    remote = await startHostRemote();
    webUuid = await env.vmUuid('web');
    const srs = await env.xapi.call<Record<string, { uuid: string; name_label: string }>>('SR.get_all_records');
    srUuid = Object.values(srs).find((sr) => sr.name_label === 'Restore SR')!.uuid;
    const [root, data] = await env.diskUuids(webUuid);
    for (let night = 0; night < 2; night++) {
      if (night > 0) {
        await env.admin.write({ vdi: root!, pattern: 'clustered', percent: 10, seed: 200 + night });
        await env.admin.write({ vdi: data!, pattern: 'scattered', percent: 3, seed: 300 + night });
      }
      sources.push(await Promise.all([root!, data!].map(async (vdi) => (await env.admin.digest(vdi)).sha256)));
      const bases = new Map(backups.at(-1)?.disks.map((d) => [d.diskKey, d.snapshotVdiUuid]) ?? []);
      backups.push(await backupVm(
        { xapi: env.xapi, disksPerVm: 2, logger: env.logger },
        { taskId: randomUUID(), policyId, policyJson: JSON.stringify({ id: policyId }), vmUuid: webUuid, targets: [{ remoteId: remote.remoteId, backupId: `d${night + 1}`, storage: remote.storage }], bases },
      ));
    }
  });
  after(async () => {
    await remote?.close();
    await env?.close();
  });

  const diskKeys = () => backups[0]!.disks.map((d) => d.diskKey);

  async function expectedDigests(backupId: string): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const summary = (await remote.storage.listBackups(webUuid)).find((b) => b.backupId === backupId)!;
    for (const key of diskKeys()) {
      const digest = await chainDigestOverGrpc(remote.harness.server.address, webUuid, backupId, key);
      const recorded = summary.disks.find((d) => d.diskKey === key)!.chainDigest;
      // Once the storage agent records chain digests at commit, they are this digest.
      if (recorded.length > 0) assert.ok(Buffer.from(recorded).equals(digest), `the recorded chain digest of ${backupId}/${key} is GetDisk's`);
      out.set(key, digest);
    }
    return out;
  }

  const restore = (backupId: string, expectedChainDigests: Map<string, Uint8Array>, nameLabel: string) =>
    restoreVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger }, { taskId: randomUUID(), vmUuid: webUuid, backupId, source: remote.storage, srUuid, nameLabel, expectedChainDigests });

  async function restoredDigests(newVmUuid: string): Promise<string[]> {
    const vm = await env.xapi.getRecordByUuid<{ VBDs: string[] }>('VM', newVmUuid);
    const byDevice: [string, string][] = [];
    for (const ref of vm.record.VBDs) {
      const vbd = await env.xapi.getRecord<{ type: string; userdevice: string; VDI: string }>('VBD', ref);
      if (vbd.type === 'Disk') byDevice.push([vbd.userdevice, (await env.admin.digest(await env.xapi.call<string>('VDI.get_uuid', vbd.VDI))).sha256]);
    }
    return byDevice.sort(([a], [b]) => Number(a) - Number(b)).map(([, sha]) => sha);
  }

  async function poolContent(): Promise<{ vms: string[]; vdis: string[] }> {
    const vms = await env.xapi.call<Record<string, { uuid: string }>>('VM.get_all_records');
    const vdis = await env.xapi.call<Record<string, { uuid: string }>>('VDI.get_all_records');
    return { vms: Object.values(vms).map((v) => v.uuid).sort(), vdis: Object.values(vdis).map((v) => v.uuid).sort() };
  }

  it('checks each disk of every date against the chain digest and restores it byte for byte', async () => {
    for (const [i, backup] of backups.entries()) {
      const outcome = await restore(backup.backups[0]!.backupId, await expectedDigests(backup.backups[0]!.backupId), `web checked #${i + 1}`);
      assert.deepEqual(outcome.disks.map((d) => d.digestChecked), [true, true], 'every disk was checked');
      assert.deepEqual(outcome.warnings, []);
      assert.deepEqual(await restoredDigests(outcome.newVmUuid), sources[i], 'the restored disks equal the source at that date');
    }
  });

  it('restores a disk without an expected digest, warning that only the storage agent checked it', async () => {
    const [first, second] = diskKeys();
    const expected = await expectedDigests('d2');
    const outcome = await restore('d2', new Map([[first!, expected.get(first!)!]]), 'web partly checked');
    assert.deepEqual(Object.fromEntries(outcome.disks.map((d) => [d.diskKey, d.digestChecked])), { [first!]: true, [second!]: false });
    assert.equal(outcome.warnings.length, 1);
    assert.match(outcome.warnings[0]!, new RegExp(`disk ${second}: no chain digest recorded .* checked by the storage agent only`));
  });

  it('a byte flipped in the full fails the restore of both dates, naming backup and disk, and leaves nothing on the pool', async () => {
    const expected = new Map([['d1', await expectedDigests('d1')], ['d2', await expectedDigests('d2')]]);
    const key = diskKeys()[0]!;
    const summary = (await remote.storage.listBackups(webUuid)).sort((a, b) => a.timestampMs - b.timestampMs);
    const file = (i: number) => join(remote.harness.root, summary[i]!.disks.find((d) => d.diskKey === key)!.path);
    const flipped = await flipStoredByte(file(0), [file(1)]);
    const before = await poolContent();
    for (const backupId of ['d1', 'd2']) {
      const error = await restore(backupId, expected.get(backupId)!, `web damaged ${backupId}`).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof DeltachainError, `the restore of ${backupId} fails: ${String(error)}`);
      assert.ok(['RESTORE_DIGEST_MISMATCH', 'DATA_DAMAGED'].includes(error.code), `${error.code}: ${error.message}`);
      assert.equal(error.side, 'data');
      assert.equal(error.retryable, false);
      assert.match(error.message, new RegExp(`backup ${backupId} of VM ${webUuid} on remote ${remote.remoteId}, disk ${key}:`));
      if (error.code === 'DATA_DAMAGED') assert.match(error.message, new RegExp(`${summary[0]!.disks.find((d) => d.diskKey === key)!.path} block ${flipped.block}\\b`), 'the storage agent names file and block');
      else assert.match(error.message, /expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}/);
      assert.deepEqual(await poolContent(), before, `the failed restore of ${backupId} left no VM and no VDI`);
    }
  });
});
