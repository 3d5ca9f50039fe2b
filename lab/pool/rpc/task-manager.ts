// Tasks as XAPI keeps them: records of class `task` (pending → success | failure | cancelled,
// with progress, result as an XML-RPC value, error_info, created/finished times), changed through
// the record store so every step is an event the client's event.from loop sees. A running
// operation watches its task's AbortSignal: `task.cancel` aborts it.
import { newTaskRecord } from '../records/record-defaults.js';
import type { RecordStore } from '../records/record-store.js';
import { xapiTime } from '../records/xapi-time.js';
import { XapiFailure } from './xapi-failure.js';
import { encodeXmlRpcValue } from './xml-rpc-value.js';

export class TaskManager {
  private readonly controllers = new Map<string, AbortController>();

  constructor(
    private readonly records: RecordStore,
    private readonly hostRef: () => string,
  ) {}

  create(nameLabel: string, nameDescription = ''): string {
    const ref = this.records.add(
      'task',
      newTaskRecord({ name_label: nameLabel, name_description: nameDescription, created: xapiTime(new Date()), resident_on: this.hostRef() }),
    );
    this.controllers.set(ref, new AbortController());
    return ref;
  }

  exists(ref: string): boolean {
    return this.records.has('task', ref);
  }

  isPending(ref: string): boolean {
    return this.records.find('task', ref)?.['status'] === 'pending';
  }

  /** Aborts when the task is cancelled (or destroyed). */
  signal(ref: string): AbortSignal {
    return this.controllers.get(ref)?.signal ?? AbortSignal.abort();
  }

  progress(ref: string, progress: number): void {
    if (!this.isPending(ref)) return;
    const rounded = Math.round(progress * 100) / 100;
    if (this.records.get('task', ref)['progress'] === rounded) return;
    this.records.update('task', ref, (task) => (task['progress'] = rounded));
  }

  /** Ends the task with `result` (encoded as an XML-RPC value; undefined → ''). */
  succeed(ref: string, result?: unknown): void {
    this.finish(ref, { status: 'success', progress: 1, result: encodeXmlRpcValue(result) });
  }

  fail(ref: string, error: unknown): void {
    const failure = error instanceof XapiFailure ? error : new XapiFailure('INTERNAL_ERROR', [String((error as Error)?.message ?? error)]);
    if (failure.code === 'TASK_CANCELLED') this.finish(ref, { status: 'cancelled', error_info: ['TASK_CANCELLED', ref] });
    else this.finish(ref, { status: 'failure', error_info: [failure.code, ...failure.params] });
  }

  /** task.cancel: a pending task is cancelled and its operation aborted. */
  cancel(ref: string): void {
    this.records.get('task', ref);
    if (!this.isPending(ref)) return;
    this.controllers.get(ref)?.abort(new XapiFailure('TASK_CANCELLED', [ref]));
    this.finish(ref, { status: 'cancelled', error_info: ['TASK_CANCELLED', ref] });
  }

  destroy(ref: string): void {
    this.records.get('task', ref);
    this.controllers.get(ref)?.abort(new XapiFailure('TASK_CANCELLED', [ref]));
    this.controllers.delete(ref);
    this.records.delete('task', ref);
  }

  private finish(ref: string, fields: Record<string, unknown>): void {
    if (!this.isPending(ref)) return;
    this.records.update('task', ref, (task) => {
      Object.assign(task, fields, { finished: xapiTime(new Date()), allowed_operations: [] });
    });
  }
}
