export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export {
  applyTaskEvent,
  ACTIVE_TASK_STATES,
  TERMINAL_TASK_STATES,
  type RetryDelay,
  type TaskEvent,
  type TaskFailure,
  type TaskLifecycle,
  type TaskState,
  type Transition,
} from './task-lifecycle.js';
export { activeRunState, deriveRunState, deriveRunStateFromCounts, TERMINAL_RUN_STATES, type RunOutcome, type RunState } from './run-outcome.js';
export { DEFAULT_TASK_LIMITS, type TaskLimit, type TaskLimits } from './task-limits.js';
