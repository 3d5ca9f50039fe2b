import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findReferenceSnapshot } from './find-reference-snapshot.js';
import { planCleanup } from './plan-cleanup.js';
import type { SnapshotSummary } from './snapshot-summary.js';
import { snapshotName, snapshotTags, TAG } from './snapshot-tags.js';

const scope = { policyId: 'p1', vmUuid: 'vm-1', remotes: 'r1' };

interface Spec {
  id: string;
  policy?: string;
  vm?: string;
  remotes?: string;
  datetime?: string;
  exported?: boolean;
  task?: string;
  untagged?: boolean;
  name?: string;
  time?: string;
}

function snap(spec: Spec): SnapshotSummary {
  const tags = spec.untagged
    ? {}
    : {
        ...snapshotTags({
          policyId: spec.policy ?? 'p1',
          vmUuid: spec.vm ?? 'vm-1',
          datetime: spec.datetime ?? '2024-04-20T12:00:00.000Z',
          chainLength: 0,
          taskId: spec.task ?? `task-${spec.id}`,
          backupIds: [`b-${spec.id}`],
          remotes: spec.remotes ?? 'r1',
        }),
        ...(spec.exported ? { [TAG.exported]: 'true' } : {}),
      };
  return {
    ref: `OpaqueRef:${spec.id}`,
    uuid: `uuid-${spec.id}`,
    nameLabel: spec.name ?? snapshotName(spec.policy ?? 'p1', 'web'),
    snapshotTime: spec.time ?? '20240420T12:00:00Z',
    otherConfig: tags,
    vdis: [],
  };
}

describe('findReferenceSnapshot', () => {
  const cases: Array<{ name: string; snapshots: Spec[]; expected: string | undefined }> = [
    { name: 'no snapshot', snapshots: [], expected: undefined },
    { name: 'only an unexported one', snapshots: [{ id: 'a' }], expected: undefined },
    { name: 'one exported', snapshots: [{ id: 'a', exported: true }], expected: 'a' },
    {
      name: 'the newest exported wins over an older exported and a newer unexported',
      snapshots: [
        { id: 'old', exported: true, datetime: '2024-04-19T12:00:00.000Z' },
        { id: 'new', exported: true, datetime: '2024-04-20T12:00:00.000Z' },
        { id: 'newest-unexported', datetime: '2024-04-21T12:00:00.000Z' },
      ],
      expected: 'new',
    },
    {
      name: 'other policy and other VM are ignored',
      snapshots: [
        { id: 'other-policy', policy: 'p2', exported: true, datetime: '2024-05-01T00:00:00.000Z' },
        { id: 'other-vm', vm: 'vm-2', exported: true, datetime: '2024-05-01T00:00:00.000Z' },
        { id: 'other-remotes', remotes: 'r1,r2', exported: true, datetime: '2024-05-01T00:00:00.000Z' },
        { id: 'mine', exported: true, datetime: '2024-04-01T00:00:00.000Z' },
      ],
      expected: 'mine',
    },
    { name: 'untagged snapshots are never a reference', snapshots: [{ id: 'user', untagged: true, name: 'before upgrade' }], expected: undefined },
    {
      name: 'same datetime: XAPI snapshot time breaks the tie',
      snapshots: [
        { id: 'x', exported: true, time: '20240420T12:00:00Z' },
        { id: 'y', exported: true, time: '20240420T12:00:05Z' },
      ],
      expected: 'y',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const found = findReferenceSnapshot(c.snapshots.map(snap), scope);
      assert.equal(found?.snapshot.ref, c.expected === undefined ? undefined : `OpaqueRef:${c.expected}`);
    });
  }
});

describe('planCleanup', () => {
  const now = new Date('2024-04-21T00:00:00Z');
  const cases: Array<{ name: string; snapshots: Spec[]; currentTask?: string; expected: string[] }> = [
    { name: 'nothing to clean', snapshots: [{ id: 'ref', exported: true }], expected: [] },
    {
      name: 'an unexported snapshot of a failed run goes, the reference stays',
      snapshots: [{ id: 'ref', exported: true }, { id: 'crashed', datetime: '2024-04-20T13:00:00.000Z' }],
      expected: ['crashed'],
    },
    {
      name: 'an older exported snapshot (crash before the old reference was destroyed) goes',
      snapshots: [
        { id: 'old', exported: true, datetime: '2024-04-19T12:00:00.000Z' },
        { id: 'ref', exported: true, datetime: '2024-04-20T12:00:00.000Z' },
      ],
      expected: ['old'],
    },
    {
      name: "the current task's own snapshot is kept (redelivery)",
      snapshots: [{ id: 'ref', exported: true }, { id: 'mine', task: 't-now', datetime: '2024-04-20T13:00:00.000Z' }],
      currentTask: 't-now',
      expected: [],
    },
    {
      name: 'an untagged snapshot named for this policy and old enough goes; a fresh one stays',
      snapshots: [
        { id: 'stale', untagged: true, time: '20240420T00:00:00Z' },
        { id: 'fresh', untagged: true, time: '20240420T23:59:00Z' },
      ],
      expected: ['stale'],
    },
    {
      name: "other policies' and other remote sets' snapshots, and the user's own, are never touched",
      snapshots: [
        { id: 'p2-crashed', policy: 'p2' },
        { id: 'r2-reference', remotes: 'r2', exported: true, datetime: '2024-01-01T00:00:00.000Z' },
        { id: 'r2-crashed', remotes: 'r2' },
        { id: 'p2-untagged', untagged: true, name: snapshotName('p2', 'web'), time: '20240101T00:00:00Z' },
        { id: 'user', untagged: true, name: 'before upgrade', time: '20240101T00:00:00Z' },
      ],
      expected: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planCleanup(c.snapshots.map(snap), scope, {
        now,
        untaggedGraceMs: 10 * 60_000,
        ...(c.currentTask === undefined ? {} : { currentTaskId: c.currentTask }),
      });
      assert.deepEqual(
        plan.map((item) => item.snapshot.ref).sort(),
        c.expected.map((id) => `OpaqueRef:${id}`).sort(),
      );
      for (const item of plan) assert.ok(item.reason.length > 10, 'every cleanup says why');
    });
  }
});
