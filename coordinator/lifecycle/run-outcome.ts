// A run's state follows from its tasks: pending until one is dispatched, running while any is
// active, then succeeded (all succeeded), failed (none succeeded), cancelled (all cancelled) or
// partial (some succeeded, some not). A run with no task at all (the selection matched no VM)
// failed, and says why.
import type { TaskState } from './task-lifecycle.js';

export type RunState = 'pending' | 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled';

export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set(['succeeded', 'partial', 'failed', 'cancelled']);

export interface RunOutcome {
  state: RunState;
  finished: boolean;
  /** Why the run failed or is partial, for `run show`. */
  error: string | null;
}

export function deriveRunState(tasks: readonly { state: TaskState }[]): RunOutcome {
  if (tasks.length === 0) return { state: 'failed', finished: true, error: 'the policy selected no VM: check its VMs, tags and pools against `deltachain vm list`' };
  const count = (state: TaskState) => tasks.filter((t) => t.state === state).length;
  const active = count('queued') + count('dispatched') + count('running');
  if (active > 0) {
    const started = tasks.some((t) => t.state !== 'queued');
    return { state: started ? 'running' : 'pending', finished: false, error: null };
  }
  const succeeded = count('succeeded');
  const failed = count('failed');
  const cancelled = count('cancelled');
  if (succeeded === tasks.length) return { state: 'succeeded', finished: true, error: null };
  if (cancelled === tasks.length) return { state: 'cancelled', finished: true, error: 'cancelled' };
  const summary = `${failed} of ${tasks.length} task${tasks.length === 1 ? '' : 's'} failed${cancelled > 0 ? `, ${cancelled} cancelled` : ''}`;
  return { state: succeeded > 0 ? 'partial' : 'failed', finished: true, error: summary };
}
