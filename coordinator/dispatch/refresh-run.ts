// Re-derives a run's state from its tasks and saves it (runs/lifecycle: deriveRunState). Called
// after every task event, so it must not read the whole run: while the run has active tasks its
// state follows from two indexed existence checks (pending or running); only once none is active
// are the tasks counted by state for the final outcome. The save writes nothing when the state
// is unchanged.
//
// Events are applied concurrently, so two refreshes of one run may overlap; the run's row is
// locked first, so each reads the tasks after the other has saved, and an older reading ("still
// running") never overwrites a newer one ("succeeded"). Most refreshes find a running run with
// tasks still active — nothing to save — and that is checked first in one unlocked statement
// (it writes nothing, so it cannot overwrite anything).
import type { Catalogue } from '../catalogue/index.js';
import { countTasksOfRun, lockRun, runActivity, runStateAndActivity, saveRunOutcome } from '../catalogue/index.js';
import { activeRunState, deriveRunStateFromCounts } from '../lifecycle/index.js';

export async function refreshRun(sql: Catalogue, runId: string, now: Date): Promise<void> {
  const seen = await runStateAndActivity(sql, runId);
  if (seen && seen.active && seen.started && seen.state === 'running' && seen.open) return;
  await sql.begin(async (tx) => {
    await lockRun(tx, runId);
    const { active, started } = await runActivity(tx, runId);
    const outcome = active ? activeRunState(started) : deriveRunStateFromCounts(await countTasksOfRun(tx, runId));
    await saveRunOutcome(tx, runId, outcome, now);
  });
}
