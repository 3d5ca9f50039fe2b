import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planDiskMode, type DiskModeInput } from './plan-disk-mode.js';
import { planBackup, type ReferenceView } from './plan-backup.js';

const R = 'aaaaaaaa-0000-4000-8000-000000000001';
const OTHER = 'bbbbbbbb-0000-4000-8000-000000000002';

describe('planDiskMode', () => {
  const base: DiskModeInput = { referenceVdiUuid: R, referenceGone: false, chain: { footerUuid: R, position: 0 }, fullInterval: 0 };
  const table: [string, Partial<DiskModeInput>, string, string][] = [
    ['continues the chain', {}, 'delta', 'continues-chain'],
    ['no reference snapshot', { referenceVdiUuid: undefined }, 'full', 'no-reference'],
    ['the reference is gone', { referenceGone: true }, 'full', 'reference-gone'],
    ['no chain on the remote', { chain: undefined }, 'full', 'no-chain'],
    ['the remote lacks the base', { chain: { footerUuid: OTHER, position: 3 } }, 'full', 'remote-lacks-base'],
    ['uuid case does not matter', { chain: { footerUuid: R.toUpperCase(), position: 0 } }, 'delta', 'continues-chain'],
    ['interval 2 after the full', { fullInterval: 2, chain: { footerUuid: R, position: 0 } }, 'delta', 'continues-chain'],
    ['interval 2 after one delta', { fullInterval: 2, chain: { footerUuid: R, position: 1 } }, 'full', 'interval-reached'],
    ['interval 1 is always full', { fullInterval: 1 }, 'full', 'interval-reached'],
    ['interval 0 never ends a chain', { fullInterval: 0, chain: { footerUuid: R, position: 500 } }, 'delta', 'continues-chain'],
    ['forced', { forceFull: true }, 'full', 'forced'],
    ['the chain holds a damaged backup', { chain: { footerUuid: R, position: 2, damagedBackupId: 'b1' } }, 'full', 'chain-damaged'],
    ['a damaged chain goes full even when the remote lacks the base', { chain: { footerUuid: OTHER, position: 2, damagedBackupId: 'b1' } }, 'full', 'chain-damaged'],
    ['a damaged chain goes full before its interval is reached', { fullInterval: 10, chain: { footerUuid: R, position: 1, damagedBackupId: 'b1' } }, 'full', 'chain-damaged'],
    ['a gone reference is said before a damaged chain', { referenceGone: true, chain: { footerUuid: R, position: 2, damagedBackupId: 'b1' } }, 'full', 'reference-gone'],
    ['forced is said before a damaged chain', { forceFull: true, chain: { footerUuid: R, position: 2, damagedBackupId: 'b1' } }, 'full', 'forced'],
  ];
  for (const [name, change, mode, reason] of table) {
    it(name, () => {
      const plan = planDiskMode({ ...base, ...change });
      assert.equal(plan.mode, mode);
      assert.equal(plan.reason, reason);
    });
  }
  it('names the damaged backup when a damaged chain ends', () => {
    assert.deepEqual(planDiskMode({ ...base, chain: { footerUuid: R, position: 3, damagedBackupId: '20240601T020000Z-ab' } }), {
      mode: 'full',
      reason: 'chain-damaged',
      damagedBackupId: '20240601T020000Z-ab',
    });
  });
  it('bases a delta on the reference VDI at the next position', () => {
    assert.deepEqual(planDiskMode({ ...base, chain: { footerUuid: R, position: 4 } }), {
      mode: 'delta',
      reason: 'continues-chain',
      baseVdiUuid: R,
      position: 5,
    });
  });
});

/** Simulates runs of one VM disk to one remote: each run commits and rotates the reference. */
function simulate(fullInterval: number, runs: number): string[] {
  let reference: ReferenceView | undefined;
  let tail: { footerUuid: string; position: number } | undefined;
  const modes: string[] = [];
  for (let run = 1; run <= runs; run++) {
    const plan = planBackup({ remote: 'r1', references: reference ? [reference] : [], chains: tail ? { xvda: tail } : {}, fullInterval });
    const delta = plan.disks.xvda?.mode === 'delta';
    modes.push(delta ? 'delta' : 'full');
    const snapshotVdi = `00000000-0000-4000-8000-${String(run).padStart(12, '0')}`;
    tail = { footerUuid: snapshotVdi, position: delta ? tail!.position + 1 : 0 };
    reference = { remote: 'r1', snapshotUuid: `snap-${run}`, vdis: { xvda: snapshotVdi }, gone: false };
  }
  return modes;
}

describe('the full backup interval over successive runs', () => {
  it("with 2 the runs go full, delta, full, delta (the seed's example)", () => {
    assert.deepEqual(simulate(2, 5), ['full', 'delta', 'full', 'delta', 'full']);
  });
  it('with 3: full, delta, delta, full', () => {
    assert.deepEqual(simulate(3, 4), ['full', 'delta', 'delta', 'full']);
  });
  it('with 1 every run is full', () => {
    assert.deepEqual(simulate(1, 3), ['full', 'full', 'full']);
  });
  it('with 0 only the first run is full', () => {
    assert.deepEqual(simulate(0, 4), ['full', 'delta', 'delta', 'delta']);
  });
});

describe('a damaged chain over successive runs', () => {
  it('the run after the damage is found takes a full of the damaged disk only, and the next continues the new chain', () => {
    const A = 'aaaaaaaa-0000-4000-8000-00000000000a';
    const B = 'bbbbbbbb-0000-4000-8000-00000000000b';
    const reference: ReferenceView = { remote: 'r1', snapshotUuid: 's3', vdis: { xvda: A, xvdb: B }, gone: false };
    const damaged = planBackup({ remote: 'r1', references: [reference], chains: { xvda: { footerUuid: A, position: 3, damagedBackupId: 'night-2' }, xvdb: { footerUuid: B, position: 3 } }, fullInterval: 0 });
    assert.deepEqual(Object.fromEntries(Object.entries(damaged.disks).map(([k, d]) => [k, d.reason])), { xvda: 'chain-damaged', xvdb: 'continues-chain' });
    assert.deepEqual(damaged.bases, { xvdb: B });
    const after = planBackup({ remote: 'r1', references: [{ ...reference, vdis: { xvda: R, xvdb: OTHER } }], chains: { xvda: { footerUuid: R, position: 0 }, xvdb: { footerUuid: OTHER, position: 4 } }, fullInterval: 0 });
    assert.deepEqual(Object.values(after.disks).map((d) => d.mode), ['delta', 'delta']);
  });
});

describe('planBackup', () => {
  const vdis = { xvda: R, xvdb: OTHER };
  const chains = { xvda: { footerUuid: R, position: 2 }, xvdb: { footerUuid: OTHER, position: 2 } };

  it('plans each disk on its own and lists the bases of the deltas', () => {
    const plan = planBackup({
      remote: 'r1',
      references: [{ remote: 'r1', snapshotUuid: 's', vdis, gone: false }],
      chains: { xvda: chains.xvda, xvdb: { footerUuid: 'cccccccc-0000-4000-8000-000000000003', position: 0 } },
      fullInterval: 0,
    });
    assert.equal(plan.disks.xvda?.mode, 'delta');
    assert.equal(plan.disks.xvdb?.reason, 'remote-lacks-base');
    assert.deepEqual(plan.bases, { xvda: R });
  });

  it('uses a reference kept for another remote when this remote holds its chain tails (initial seed)', () => {
    const plan = planBackup({ remote: 'r2', references: [{ remote: 'r1', snapshotUuid: 's', vdis, gone: false }], chains, fullInterval: 0 });
    assert.equal(plan.reference?.remote, 'r1');
    assert.deepEqual(plan.bases, vdis);
  });

  it("does not use another remote's reference when this remote's chains differ", () => {
    const plan = planBackup({ remote: 'r2', references: [{ remote: 'r1', snapshotUuid: 's', vdis, gone: false }], chains: { xvda: chains.xvda }, fullInterval: 0 });
    assert.equal(plan.reference, undefined);
    assert.deepEqual(plan.bases, {});
  });

  it('goes full everywhere when the reference is gone', () => {
    const plan = planBackup({ remote: 'r1', references: [{ remote: 'r1', snapshotUuid: 's', vdis, gone: true }], chains, fullInterval: 0 });
    assert.deepEqual(Object.values(plan.disks).map((d) => d.reason), ['reference-gone', 'reference-gone']);
    assert.deepEqual(plan.bases, {});
  });
});
