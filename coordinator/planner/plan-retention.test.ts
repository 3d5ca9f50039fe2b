import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nextRetentionAction, planRetention, type RetentionAction, type RetentionBackup } from './plan-retention.js';

/** Backups from a compact spec: "F" starts a chain, "D" continues the previous backup. */
function history(spec: string): RetentionBackup[] {
  const out: RetentionBackup[] = [];
  [...spec].forEach((kind, i) => {
    out.push({ id: `b${i}`, takenAt: new Date(Date.UTC(2024, 0, 1 + i)), parents: kind === 'D' ? [`b${i - 1}`] : [] });
  });
  return out;
}

const del = (id: string): RetentionAction => ({ type: 'delete', backupId: id });
const merge = (id: string, retires: string): RetentionAction => ({ type: 'merge', backupId: id, retires: [retires] });

describe('planRetention', () => {
  const table: { name: string; spec: string; keep: number; expect: RetentionAction[] }[] = [
    { name: 'nothing to do under the count', spec: 'FDD', keep: 3, expect: [] },
    { name: 'one over: merge the oldest delta into the full', spec: 'FDDD', keep: 3, expect: [merge('b1', 'b0')] },
    { name: 'two over: merge twice, oldest first', spec: 'FDDDD', keep: 3, expect: [merge('b1', 'b0'), merge('b2', 'b1')] },
    { name: 'keep 1 of a chain of 2', spec: 'FD', keep: 1, expect: [merge('b1', 'b0')] },
    { name: 'an older chain with nothing kept is deleted, newest first', spec: 'FDFD', keep: 2, expect: [del('b1'), del('b0')] },
    { name: 'an older chain partly kept loses only its head, by merge', spec: 'FDFD', keep: 3, expect: [merge('b1', 'b0')] },
    {
      name: 'delete an old chain and merge in the new one',
      spec: 'FDFDD',
      keep: 2,
      expect: [del('b1'), del('b0'), merge('b3', 'b2')],
    },
    { name: 'only fulls: delete the oldest', spec: 'FFF', keep: 2, expect: [del('b0')] },
  ];
  for (const row of table) {
    it(row.name, () => {
      assert.deepEqual(planRetention(history(row.spec), row.keep).actions, row.expect);
    });
  }

  it('orders backups of one second by their chain, not by their random ids', () => {
    const second = new Date(Date.UTC(2024, 0, 1, 0, 0, 4));
    const backups: RetentionBackup[] = [
      { id: 'a0', takenAt: new Date(Date.UTC(2024, 0, 1, 0, 0, 1)), parents: [] },
      { id: 'a1', takenAt: new Date(Date.UTC(2024, 0, 1, 0, 0, 2)), parents: ['a0'] },
      { id: 'z3', takenAt: second, parents: ['a1'] },
      { id: 'c4', takenAt: second, parents: ['z3'] },
      { id: 'a5', takenAt: new Date(Date.UTC(2024, 0, 1, 0, 0, 5)), parents: ['c4'] },
    ];
    const plan = planRetention(backups, 3);
    assert.deepEqual(plan.keep, ['z3', 'c4', 'a5']);
    assert.deepEqual(plan.actions, [merge('a1', 'a0'), merge('z3', 'a1')], 'merges go into the full, oldest first');
  });

  it('keeps the newest backups whatever the input order', () => {
    const backups = history('FDDD').reverse();
    assert.deepEqual(planRetention(backups, 2).keep, ['b2', 'b3']);
  });

  it('replanning after each step converges (merge retires the parent, child becomes full)', () => {
    let backups = history('FDDDDD');
    const done: RetentionAction[] = [];
    for (let step = 0; step < 10; step++) {
      const action = nextRetentionAction(planRetention(backups, 2));
      if (!action) break;
      done.push(action);
      if (action.type === 'delete') backups = backups.filter((b) => b.id !== action.backupId);
      else backups = backups.filter((b) => !action.retires.includes(b.id)).map((b) => (b.id === action.backupId ? { ...b, parents: [] } : b));
    }
    assert.deepEqual(backups.map((b) => b.id), ['b4', 'b5']);
    assert.equal(done.length, 4);
  });

  it('handles a backup whose disks depend on two different parents', () => {
    const backups: RetentionBackup[] = [
      { id: 'a', takenAt: new Date(1), parents: [] },
      { id: 'b', takenAt: new Date(2), parents: [] },
      { id: 'c', takenAt: new Date(3), parents: ['a', 'b'] },
    ];
    assert.deepEqual(planRetention(backups, 1).actions, [{ type: 'merge', backupId: 'c', retires: ['a', 'b'] }]);
  });

  it('refuses a retention below 1', () => {
    assert.throws(() => planRetention([], 0), RangeError);
  });
});
