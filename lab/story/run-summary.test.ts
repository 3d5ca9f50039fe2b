import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { backupKind, summarizeRun } from './run-summary.js';

const VM = '5e1f0c9e-5a7d-4e55-9c3f-2d1b6a0e9f10';

function task(t: Partial<wire.TaskInfo>): wire.TaskInfo {
  return {
    id: 't', runId: 'r', kind: 'backup', addressKind: 'pool', address: 'lab', remote: 'nas', vmUuid: VM, state: 'succeeded', attempt: 1, maxAttempts: 3,
    createdAtMs: 0, startedAtMs: 1000, finishedAtMs: 3500, notBeforeMs: 0, progressDone: 0, progressTotal: 0, errorCode: '', errorMessage: '', errorSide: '', payloadJson: '', resultJson: '', ...t,
  };
}

function backup(id: string, disks: number, full: number): wire.Backup {
  return { id, vmUuid: VM, vmName: 'web', remote: 'nas', takenAtMs: 0, status: 'committed', sizeBytes: 0, policyId: 'p', diskCount: disks, fullDiskCount: full, damage: [], snapshotKey: '' };
}

describe('summarizeRun', () => {
  const run: wire.RunDetail = {
    run: { id: 'r', policyId: 'p', policyName: 'nightly', scheduledAtMs: 0, trigger: 'manual', state: 'partial', createdAtMs: 0, startedAtMs: 0, finishedAtMs: 1, error: '' },
    tasks: [
      task({ payloadJson: JSON.stringify({ backupId: 'b2', plan: { xvda: { mode: 'delta', reason: 'r', baseVdiUuid: 'v' } } }), resultJson: JSON.stringify({ backupId: 'b2', bytesSent: 4195328, reads: [{ diskKey: 'xvda', readMethod: 'cbt-nbd', fallbackReason: '' }] }) }),
      task({ kind: 'merge', addressKind: 'remote', address: 'nas', payloadJson: JSON.stringify({ backupId: 'b1', retires: ['b0'] }), resultJson: JSON.stringify({ retiredBackupIds: ['b0'] }) }),
      task({ kind: 'backup', address: 'lab', remote: 'offsite', state: 'failed', errorCode: 'NO_STORAGE_AGENT', errorMessage: 'no agent' }),
    ],
  };

  it('reads backups with their kind from the catalogue rows, merges, and failures', () => {
    const summary = summarizeRun(run, [backup('b1', 2, 2), backup('b2', 2, 0)]);
    assert.equal(summary.state, 'partial');
    assert.deepEqual(summary.backups, [{ vmUuid: VM, remote: 'nas', backupId: 'b2', bytesSent: 4195328, durationMs: 2500, disks: 2, fullDisks: 0, plan: { xvda: 'delta' }, reads: [{ diskKey: 'xvda', readMethod: 'cbt-nbd', fallbackReason: '' }] }]);
    assert.equal(backupKind(summary.backups[0]!), 'delta');
    assert.deepEqual(summary.retention, [{ kind: 'merge', remote: 'nas', vmUuid: VM, backupId: 'b1', retired: ['b0'] }]);
    assert.deepEqual(summary.failed, [{ kind: 'backup', address: 'lab', vmUuid: VM, error: 'NO_STORAGE_AGENT: no agent' }]);
  });

  it('says unknown when the catalogue has no row for the backup', () => {
    const [b] = summarizeRun(run, []).backups;
    assert.equal(backupKind(b!), 'unknown');
  });

  it('tells full, delta and mixed apart', () => {
    const base = summarizeRun(run, [backup('b2', 2, 0)]).backups[0]!;
    assert.equal(backupKind({ ...base, fullDisks: 2 }), 'full');
    assert.equal(backupKind({ ...base, fullDisks: 1 }), 'mixed');
  });
});
