import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { ProgressView, humanDuration, progressBar, taskLabel } from './progress-view.js';

function task(over: Partial<wire.TaskInfo>): wire.TaskInfo {
  return {
    id: 't1', runId: '', kind: 'backup', addressKind: 'pool', address: 'lab', remote: 'nas', vmUuid: '11111111-2222-4333-8444-555555555555',
    state: 'running', attempt: 1, maxAttempts: 3, createdAtMs: 0, startedAtMs: 0, finishedAtMs: 0, notBeforeMs: 0,
    progressDone: 0, progressTotal: 0, errorCode: '', errorMessage: '', errorSide: '', payloadJson: '{}', resultJson: '', ...over,
  };
}

function capture(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, io: { out: (s: string) => void lines.push(s), err: () => {}, isTTY, columns: 100, env: {} } };
}

describe('ProgressView', () => {
  it('draws bars in a terminal and redraws them in place', () => {
    const { lines, io } = capture(true);
    const view = new ProgressView(io);
    view.update([task({ progressDone: 1, progressTotal: 4 })]);
    view.update([task({ progressDone: 3, progressTotal: 4 })]);
    assert.doesNotMatch(lines[0]!, /\x1b\[1A/);
    assert.match(lines[0]!, /backup 11111111→nas \[#+-+\] running 25% 1\/4/);
    assert.match(lines[1]!, /^\x1b\[1A\x1b\[2Kbackup 11111111→nas \[#+-*\] running 75% 3\/4\n$/);
  });

  it('prints plain lines elsewhere, only when something changed enough', () => {
    const { lines, io } = capture(false);
    const view = new ProgressView(io);
    view.update([task({ progressDone: 10, progressTotal: 100 })]);
    view.update([task({ progressDone: 12, progressTotal: 100 })]);
    view.update([task({ progressDone: 25, progressTotal: 100 })]);
    view.update([task({ state: 'queued', errorCode: 'TASK_TIMEOUT', errorMessage: 'late' })]);
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /running 25%/);
    assert.match(lines[2]!, /queued TASK_TIMEOUT: late/);
    assert.doesNotMatch(lines.join(''), /\x1b/);
  });

  it("shows a running transfer's rate over the last updates and the time left at that rate", () => {
    const { lines, io } = capture(true);
    let now = 1_000_000;
    const view = new ProgressView(io, () => now);
    const GiB = 1024 ** 3;
    const MiB = 1024 ** 2;
    view.update([task({ progressDone: 0, progressTotal: 4 * GiB })]);
    assert.doesNotMatch(lines[0]!, /\/s/, 'no rate from one update');
    now += 2000;
    view.update([task({ progressDone: 500 * MiB, progressTotal: 4 * GiB })]);
    assert.match(lines[1]!, /running 12% 500 MiB\/4 GiB 250 MiB\/s ETA 14s/);
    // The rate follows the last 10 s, not the whole transfer: it slowed to 100 MiB/s.
    for (let i = 0; i < 12; i++) {
      now += 1000;
      view.update([task({ progressDone: 500 * MiB + (i + 1) * 100 * MiB, progressTotal: 4 * GiB })]);
    }
    assert.match(lines.at(-1)!, /1.66 GiB\/4 GiB 100 MiB\/s ETA 24s/);
    // A new attempt starts over (done goes back): no rate until it has a second of its own.
    now += 1000;
    view.update([task({ progressDone: 10 * MiB, progressTotal: 4 * GiB, attempt: 2 })]);
    assert.doesNotMatch(lines.at(-1)!, /\/s|ETA/);
    now += 1000;
    view.update([task({ progressDone: 10 * MiB, progressTotal: 4 * GiB, attempt: 2 })]);
    assert.match(lines.at(-1)!, /stalled/);
    // Small counts (blocks, files) and finished tasks get no rate.
    view.update([task({ progressDone: 3, progressTotal: 4 }), task({ id: 't2', state: 'succeeded', progressDone: GiB, progressTotal: GiB })]);
    assert.doesNotMatch(lines.at(-1)!, /\/s|ETA/);
  });

  it('durations', () => {
    assert.equal(humanDuration(400), '0s');
    assert.equal(humanDuration(45_000), '45s');
    assert.equal(humanDuration(185_000), '3m05s');
    assert.equal(humanDuration(7_620_000), '2h07m');
  });

  it('bars', () => {
    assert.equal(progressBar(0.5, 10), '[#####-----]');
    assert.equal(progressBar(undefined, 4), '[    ]');
  });

  it('names a release of reference snapshots by pool, VMs, reason and what it destroyed', () => {
    const payloadJson = JSON.stringify({ policyId: 'p', vmUuids: ['a', 'b'], keepRemotes: ['offsite'], reason: 'remote-dropped' });
    const release = task({ kind: 'release', remote: '', vmUuid: '', payloadJson });
    assert.equal(taskLabel(release), 'release lab 2 VMs (remotes dropped, keep offsite)');
    assert.equal(taskLabel({ ...release, state: 'succeeded', resultJson: JSON.stringify({ destroyedSnapshotUuids: ['s1', 's2'] }) }), 'release lab 2 VMs (remotes dropped, keep offsite): 2 destroyed');
    assert.equal(
      taskLabel({ ...release, state: 'succeeded', resultJson: JSON.stringify({ destroyedSnapshotUuids: ['s1'], destroyedOrphanVdiUuids: ['v1', 'v2'] }) }),
      'release lab 2 VMs (remotes dropped, keep offsite): 1 destroyed, 2 orphan CBT metadata VDIs',
    );
    const deleted = task({ kind: 'release', remote: '', vmUuid: '', payloadJson: JSON.stringify({ vmUuids: [], keepRemotes: [], reason: 'policy-deleted' }) });
    assert.equal(taskLabel(deleted), 'release lab every VM (policy deleted)');
  });
});
