// How long each kind of task may take and how often it is tried. Generous by default (a full
// export of a large disk takes hours); the coordinator's config may override them.
import type { TaskKind } from '../tasks/index.js';

export interface TaskLimit {
  /** Seconds from dispatch to the deadline of one attempt. */
  timeoutSeconds: number;
  /** Attempts in all (1 = no retry). */
  maxAttempts: number;
}

export type TaskLimits = Readonly<Record<TaskKind, TaskLimit>>;

export const DEFAULT_TASK_LIMITS: TaskLimits = {
  backup: { timeoutSeconds: 6 * 3600, maxAttempts: 3 },
  merge: { timeoutSeconds: 6 * 3600, maxAttempts: 5 },
  delete: { timeoutSeconds: 600, maxAttempts: 5 },
  scan: { timeoutSeconds: 3600, maxAttempts: 3 },
  restore: { timeoutSeconds: 12 * 3600, maxAttempts: 1 },
  verify: { timeoutSeconds: 6 * 3600, maxAttempts: 2 },
  release: { timeoutSeconds: 1800, maxAttempts: 5 },
  mirror: { timeoutSeconds: 6 * 3600, maxAttempts: 3 },
};
