// The task an HTTP handler reports to: the client's `task_id` when it names a live task, else a
// task of the handler's own (destroyed when the handler ends, as XAPI does for its internal
// tasks). Ending is idempotent: the first outcome wins.
import type { TaskManager } from '../rpc/task-manager.js';

export class HandlerTask {
  readonly ref: string;
  private readonly own: boolean;

  constructor(
    private readonly tasks: TaskManager,
    taskId: string | null,
    label: string,
  ) {
    this.own = taskId === null || !tasks.exists(taskId);
    this.ref = this.own ? tasks.create(label) : taskId!;
  }

  get signal(): AbortSignal {
    return this.tasks.signal(this.ref);
  }

  progress(fraction: number): void {
    this.tasks.progress(this.ref, fraction);
  }

  succeed(result?: unknown): void {
    if (this.tasks.exists(this.ref)) this.tasks.succeed(this.ref, result);
    this.cleanup();
  }

  fail(error: unknown): void {
    if (this.tasks.exists(this.ref)) this.tasks.fail(this.ref, error);
    this.cleanup();
  }

  private cleanup(): void {
    if (this.own && this.tasks.exists(this.ref)) this.tasks.destroy(this.ref);
  }
}
