// Runs one XAPI call: unknown method → MESSAGE_METHOD_UNKNOWN; the session is checked (and the
// SESSION_INVALID fault may fire); the parameter count is checked
// (MESSAGE_PARAMETER_COUNT_MISMATCH); state-changing methods run one at a time and the state is
// saved before the reply. `Async.<method>` creates a task, returns its ref at once, and runs the
// method in the background, ending the task with the result (an XML-RPC value) or the error.
import type { Logger } from '../../../shared/logging/index.js';
import { LabDiskError } from '../disk/lab-disk-error.js';
import type { FaultInjector } from '../faults/fault-injector.js';
import type { LabState } from '../state/lab-state.js';
import type { NbdServerInfo } from '../nbd/nbd-server.js';
import type { MethodContext, MethodRegistry, MethodSpec } from './method-registry.js';
import type { SessionManager } from './session-manager.js';
import type { TaskManager } from './task-manager.js';
import { XapiFailure, internalError, sessionInvalid } from './xapi-failure.js';

export interface DispatcherParts {
  registry: MethodRegistry;
  state: LabState;
  sessions: SessionManager;
  tasks: TaskManager;
  faults: FaultInjector;
  logger?: Logger;
  nbdInfo: (vdiUuid: string, sessionRef: string) => NbdServerInfo[];
  /** Aborted when the lab shuts down. */
  shutdown: AbortSignal;
}

export class RpcDispatcher {
  private writeLock: Promise<void> = Promise.resolve();

  constructor(private readonly parts: DispatcherParts) {}

  async call(method: string, params: unknown[]): Promise<unknown> {
    const isAsync = method.startsWith('Async.');
    const name = isAsync ? method.slice('Async.'.length) : method;
    const spec = this.parts.registry.get(name);
    if (spec === undefined) throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [method]);
    const needsSession = spec.session !== false;
    const session = needsSession ? this.checkSession(params[0]) : '';
    const args = needsSession ? params.slice(1) : params;
    checkCount(method, spec, args.length, needsSession);
    if (!isAsync) return this.run(spec, this.context(session, this.parts.shutdown), args);
    const taskRef = this.parts.tasks.create(`Async.${name}`);
    const signal = AbortSignal.any([this.parts.tasks.signal(taskRef), this.parts.shutdown]);
    setImmediate(() => {
      this.run(spec, this.context(session, signal), args).then(
        (result) => this.parts.tasks.succeed(taskRef, result),
        (error) => this.parts.tasks.fail(taskRef, toFailure(error)),
      );
    });
    return taskRef;
  }

  private checkSession(ref: unknown): string {
    const session = this.parts.sessions.check(ref);
    if (this.parts.faults.take('sessionInvalid') !== undefined) {
      this.parts.sessions.logout(session);
      throw sessionInvalid(session);
    }
    return session;
  }

  private context(session: string, signal: AbortSignal): MethodContext {
    const { state, sessions, tasks, faults, logger, nbdInfo } = this.parts;
    return { state, sessions, tasks, faults, logger, nbdInfo, session, signal };
  }

  private async run(spec: MethodSpec, context: MethodContext, args: unknown[]): Promise<unknown> {
    if (spec.readOnly === true) return this.guard(() => spec.run(context, args));
    return this.exclusive(() => this.guard(() => spec.run(context, args)));
  }

  /** Runs a state change alone (no other state-changing call interleaves), then saves. */
  async exclusive<T>(change: () => Promise<T> | T): Promise<T> {
    const previous = this.writeLock;
    let release!: () => void;
    this.writeLock = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      const result = await change();
      await this.parts.state.save();
      return result;
    } catch (error) {
      await this.parts.state.save().catch(() => undefined);
      throw error;
    } finally {
      release();
    }
  }

  private async guard(fn: () => unknown): Promise<unknown> {
    try {
      return await fn();
    } catch (error) {
      throw toFailure(error, this.parts.logger);
    }
  }
}

function checkCount(method: string, spec: MethodSpec, got: number, withSession: boolean): void {
  const [min, max] = typeof spec.params === 'number' ? [spec.params, spec.params] : spec.params;
  if (got < min || got > max) {
    const extra = withSession ? 1 : 0;
    throw new XapiFailure('MESSAGE_PARAMETER_COUNT_MISMATCH', [method, String(max + extra), String(got + extra)]);
  }
}

/** Any error as a XAPI failure: disk-store conflicts are OTHER_OPERATION_IN_PROGRESS, bugs INTERNAL_ERROR. */
export function toFailure(error: unknown, logger?: Logger): XapiFailure {
  if (error instanceof XapiFailure) return error;
  if (error instanceof LabDiskError && error.retryable) return new XapiFailure('OTHER_OPERATION_IN_PROGRESS', [error.message]);
  logger?.error({ err: error }, 'lab method failed');
  return internalError(error instanceof Error ? error.message : String(error));
}
