// What the lab's HTTP handlers share: the state, sessions, tasks, faults, the RPC dispatcher, a
// logger, and the shutdown signal.
import type { Logger } from '../../shared/logging/index.js';
import type { FaultInjector } from './faults/fault-injector.js';
import type { RpcDispatcher } from './rpc/rpc-dispatcher.js';
import type { SessionManager } from './rpc/session-manager.js';
import type { TaskManager } from './rpc/task-manager.js';
import type { LabState } from './state/lab-state.js';
import type { BodyFraming } from './http/http-replies.js';

export interface LabServices {
  state: LabState;
  sessions: SessionManager;
  tasks: TaskManager;
  faults: FaultInjector;
  dispatcher: RpcDispatcher;
  logger: Logger | undefined;
  /** Aborted when the lab shuts down. */
  shutdown: AbortSignal;
  options: { exportFraming: BodyFraming };
}
