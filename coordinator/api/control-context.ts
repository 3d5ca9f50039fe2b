// What the control API handlers work with: the catalogue, the clock and ids (parameters, so
// tests pin them), task limits, and hooks that wake the scheduler and dispatcher after a change.
import type { Catalogue } from '../catalogue/index.js';
import type { TaskLimits } from '../lifecycle/index.js';
import type { Ids } from '../tasks/index.js';

export interface ControlHooks {
  /** A policy was created, edited, enabled or disabled. */
  policiesChanged(): void;
  /** Tasks were queued (a manual run, a scan, a restore…). */
  tasksQueued(): void;
  /** A pool (host role) or remote (storage role) was registered: make its task queue. */
  registered?(role: 'host' | 'storage', name: string): Promise<void>;
}

export interface ControlContext {
  sql: Catalogue;
  clock: () => Date;
  ids: Ids;
  limits: TaskLimits;
  hooks: ControlHooks;
  /** How often a watch re-reads the catalogue, milliseconds; default 500. */
  watchIntervalMs?: number;
}
