// The coordinator bench at a tiny size: 50 VMs over 5 simulated host agents, one night. Checks
// the row is sane — every task recorded and succeeded, phases adding up, catalogue rows counted —
// so the full-size bench (npm run bench:coordinator) does not break unseen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCoordinatorBench } from './bench/coordinator/coordinator-bench.js';

test('coordinator bench: 50 VMs over 5 agents, one night, every task recorded', { timeout: 60_000 }, async () => {
  const [row] = await runCoordinatorBench({ vmCounts: [50], agents: 5, runs: 1 });
  assert.ok(row);
  assert.equal(row.vms, 50);
  assert.deepEqual(row.tasks, [50]);
  assert.deepEqual(row.runStates, ['succeeded']);
  assert.equal(row.dbRows.tasks, 50);
  assert.equal(row.dbRows.backups, 50);
  assert.equal(row.dbRows.vms, 50);
  assert.equal(row.dbRows.pools, 5);
  assert.equal(row.dbRows.runs, 1);
  assert.equal(row.dbRowsTotal, Object.values(row.dbRows).reduce((a, b) => a + b, 0));
  assert.ok(row.dbBytes > 0);
  const { planSec, dispatchSec, recordSec, totalSec } = row;
  assert.ok(Math.abs(planSec.median + dispatchSec.median + recordSec.median - totalSec.median) < 0.05, 'the phases add up to the total');
  assert.ok(row.tasksPerSec.median > 0);
  assert.ok(row.coordinatorPeakRssMiB > 0);
  assert.ok(row.coordinatorCpuSec.median > 0);
  assert.equal(row.redeliveries, 0);
});
