import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskStatus, type TaskResult } from '../proto/gen/deltachain/tasks/v1/event.js';
import { measureTaskResult } from './task-result-measures.js';

const disk = (mode: string, bytesSent: number, durationMs: number) => ({
  diskKey: 'd', snapshotVdiUuid: 's', mode, baseVdiUuid: '', fullReason: '', detail: '', virtualSize: 1, blocks: 1, bytesSent, durationMs, readMethod: 'vhd-export', fallbackReason: '', fallbackDetail: '',
});
const backup = (redelivered: boolean): TaskResult => ({
  status: TaskStatus.TASK_STATUS_SUCCEEDED,
  durationMs: 9000,
  output: {
    $case: 'backup',
    value: {
      backupId: 'b', snapshotUuid: 's', bytesSent: 300,
      report: { disks: [disk('full', 100, 2000), disk('delta', 200, 500)], skippedDisks: [], removedSnapshots: [], redelivered, warnings: [], snapshotTimeMs: 0 },
    },
  },
});

describe('measureTaskResult', () => {
  it('a backup: one transfer per disk with its mode, bytes and seconds', () => {
    assert.deepEqual(measureTaskResult(backup(false)), {
      outcome: 'succeeded',
      kind: 'backup',
      seconds: 9,
      transfers: [
        { operation: 'backup', mode: 'full', bytes: 100, seconds: 2 },
        { operation: 'backup', mode: 'delta', bytes: 200, seconds: 0.5 },
      ],
      mergeSeconds: undefined,
    });
  });

  it('a redelivered backup moved nothing this time', () => {
    assert.deepEqual(measureTaskResult(backup(true)).transfers, []);
  });

  it('a restore: its disks as restore transfers', () => {
    const result: TaskResult = {
      status: TaskStatus.TASK_STATUS_SUCCEEDED,
      durationMs: 4000,
      output: { $case: 'restore', value: { newVmUuid: 'v', bytesReceived: 64, report: { newVmName: 'n', disks: [{ diskKey: 'd', vdiUuid: 'x', bytes: 64, durationMs: 3000, digestChecked: false }], warnings: [], redelivered: false, droppedFields: [] } } },
    };
    assert.deepEqual(measureTaskResult(result).transfers, [{ operation: 'restore', mode: 'restore', bytes: 64, seconds: 3 }]);
  });

  it('a merge that merged a disk has a merge time; one with nothing to do has none', () => {
    const merge = (merged: boolean): TaskResult => ({
      status: TaskStatus.TASK_STATUS_SUCCEEDED,
      durationMs: 1500,
      output: { $case: 'merge', value: { disks: [{ diskKey: 'd', path: 'p', blocksMerged: 3, resumed: false, merged, fileSize: 0 }], retiredBackupIds: [] } },
    });
    assert.equal(measureTaskResult(merge(true)).mergeSeconds, 1.5);
    assert.equal(measureTaskResult(merge(false)).mergeSeconds, undefined);
  });

  it('a failure is only an outcome', () => {
    const failed: TaskResult = { status: TaskStatus.TASK_STATUS_FAILED, error: { code: 'X', message: 'm', retryable: true, side: '' }, durationMs: 10, output: undefined };
    assert.deepEqual(measureTaskResult(failed), { outcome: 'failed', kind: undefined, seconds: 0.01, transfers: [], mergeSeconds: undefined });
  });
});
