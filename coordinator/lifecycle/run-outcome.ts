// A run's state follows from its tasks: pending until one is dispatched, running while any is
// active, then succeeded (all succeeded), failed (none succeeded), cancelled (all cancelled) or
// partial (some succeeded, some not). A run with no task at all (the selection matched no VM)
// failed, and says why. A scheduled firing that found the policy's previous run still active is
// recorded `skipped` (never derived from tasks: it has none).
import type { TaskState } from './task-lifecycle.js';

export type RunState = 'pending' | 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled' | 'skipped';

export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set(['succeeded', 'partial', 'failed', 'cancelled', 'skipped']);

export interface RunOutcome {
  state: RunState;
  finished: boolean;
  /** Why the run failed or is partial, for `run show`. */
  error: string | null;
}

export function deriveRunState(tasks: readonly { state: TaskState }[]): RunOutcome {
  const counts: Partial<Record<TaskState, number>> = {};
  for (const t of tasks) counts[t.state] = (counts[t.state] ?? 0) + 1;
  return deriveRunStateFromCounts(counts);
}

/** The same, from the number of tasks in each state (what the catalogue counts for a large run). */
export function deriveRunStateFromCounts(counts: Partial<Record<TaskState, number>>): RunOutcome {
  const count = (state: TaskState) => counts[state] ?? 0;
  const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  if (total === 0) return { state: 'failed', finished: true, error: 'the policy selected no VM: check its VMs, tags and pools against `deltachain vm list`' };
  const active = count('queued') + count('dispatched') + count('running');
  if (active > 0) return activeRunState(count('queued') < total);
  const succeeded = count('succeeded');
  const failed = count('failed');
  const cancelled = count('cancelled');
  if (succeeded === total) return { state: 'succeeded', finished: true, error: null };
  if (cancelled === total) return { state: 'cancelled', finished: true, error: 'cancelled' };
  const summary = `${failed} of ${total} task${total === 1 ? '' : 's'} failed${cancelled > 0 ? `, ${cancelled} cancelled` : ''}`;
  return { state: succeeded > 0 ? 'partial' : 'failed', finished: true, error: summary };
}

/** A run with active tasks: running once any task has left the queue, pending before. */
export function activeRunState(started: boolean): RunOutcome {
  return { state: started ? 'running' : 'pending', finished: false, error: null };
}
