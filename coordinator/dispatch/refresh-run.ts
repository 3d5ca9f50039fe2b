// Re-derives a run's state from its tasks and saves it (runs/lifecycle: deriveRunState).
import type { Queryable } from '../catalog/index.js';
import { listTasksOfRun, saveRunOutcome } from '../catalog/index.js';
import { deriveRunState } from '../lifecycle/index.js';

export async function refreshRun(db: Queryable, runId: string, now: Date): Promise<void> {
  const tasks = await listTasksOfRun(db, runId);
  await saveRunOutcome(db, runId, deriveRunState(tasks), now);
}
