// The table of XAPI methods the lab answers: name → how many parameters follow the session,
// whether a session is needed, whether it changes state, and the implementation. The
// dispatcher checks all of that before running a method; `system.listMethods` lists the names.
import type { Logger } from '../../../shared/logging/index.js';
import type { FaultInjector } from '../faults/fault-injector.js';
import type { NbdServerInfo } from '../nbd/nbd-server.js';
import type { LabState } from '../state/lab-state.js';
import type { SessionManager } from './session-manager.js';
import type { TaskManager } from './task-manager.js';

export interface MethodContext {
  state: LabState;
  sessions: SessionManager;
  tasks: TaskManager;
  faults: FaultInjector;
  logger: Logger | undefined;
  /** VDI.get_nbd_info's records for a VDI (uuid) and session; none when no network allows NBD. */
  nbdInfo: (vdiUuid: string, sessionRef: string) => NbdServerInfo[];
  /** The caller's session ref ('' for methods without one). */
  session: string;
  /** Aborts when the call's task is cancelled, or when the lab shuts down. */
  signal: AbortSignal;
}

export interface MethodSpec {
  /** Parameters after the session: an exact count or [min, max]. */
  params: number | readonly [number, number];
  /** False for session.login_with_password and system.*: no session parameter. Default true. */
  session?: boolean;
  /** True when the method changes nothing (runs without the write lock, never saves). */
  readOnly?: boolean;
  run(context: MethodContext, args: unknown[]): unknown;
}

export class MethodRegistry {
  private readonly methods = new Map<string, MethodSpec>();

  define(name: string, spec: MethodSpec): void {
    this.methods.set(name, spec);
  }

  get(name: string): MethodSpec | undefined {
    return this.methods.get(name);
  }

  names(): string[] {
    return [...this.methods.keys()].sort();
  }
}
