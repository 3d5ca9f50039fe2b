// Control API: runs and tasks — list, show, and watch (a stream that re-reads the catalogue and
// sends a new snapshot whenever something changed, until the run or task is finished). Polling
// the catalogue keeps watches correct across coordinator restarts and several coordinators.
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import * as catalogue from '../catalogue/index.js';
import { InvalidInputError } from '../../shared/errors.js';
import { TERMINAL_RUN_STATES, TERMINAL_TASK_STATES, type RunState } from '../lifecycle/index.js';
import type { ControlContext } from './control-context.js';
import { runToWire, taskToWire } from './to-wire.js';
import { UUID_PATTERN } from '../../shared/ids.js';


/** A run by full id or by a unique prefix of at least 4 characters. */
export async function findRun(ctx: ControlContext, id: string): Promise<catalogue.RunRecord> {
  const lower = id.toLowerCase();
  if (UUID_PATTERN.test(lower)) return catalogue.getRun(ctx.sql, lower);
  if (!/^[0-9a-f-]{4,35}$/.test(lower)) throw new InvalidInputError(`"${id}" is not a run id: give the id or its first characters (at least 4) from \`deltachain run list\``);
  const found = await catalogue.findRunsByPrefix(ctx.sql, lower);
  if (found.length === 0) throw new catalogue.NotFoundError(`no run whose id starts with ${id}; see \`deltachain run list\``);
  if (found.length > 1) throw new InvalidInputError(`several runs have ids starting with ${id}; give more characters`);
  return found[0]!;
}

async function runDetail(ctx: ControlContext, id: string): Promise<wire.RunDetail> {
  const [run, tasks] = await Promise.all([catalogue.getRun(ctx.sql, id), catalogue.listTasksOfRun(ctx.sql, id)]);
  return { run: runToWire(run), tasks: tasks.map(taskToWire) };
}

function checkTaskId(id: string): string {
  const lower = id.toLowerCase();
  if (!UUID_PATTERN.test(lower)) throw new InvalidInputError(`"${id}" is not a task id (a uuid)`);
  return lower;
}

/** Yields `read()` now and whenever it changes, until `done` says so. */
async function* watch<T>(ctx: ControlContext, read: () => Promise<T>, done: (value: T) => boolean, isCancelled: () => boolean): AsyncGenerator<T> {
  let last = '';
  for (;;) {
    const value = await read();
    const text = JSON.stringify(value);
    if (text !== last) {
      last = text;
      yield value;
    }
    if (done(value) || isCancelled()) return;
    await new Promise((resolve) => setTimeout(resolve, ctx.watchIntervalMs ?? 500));
  }
}

export function runHandlers(ctx: ControlContext) {
  return {
    async listRuns(req: wire.ListRunsRequest): Promise<wire.ListRunsResponse> {
      const filter: { policyName?: string; limit?: number } = { limit: req.limit === 0 ? 50 : Math.min(req.limit, 1000) };
      if (req.policy !== '') filter.policyName = req.policy;
      return { runs: (await catalogue.listRuns(ctx.sql, filter)).map(runToWire) };
    },
    async getRun(req: wire.GetRunRequest): Promise<wire.GetRunResponse> {
      return { run: await runDetail(ctx, (await findRun(ctx, req.id)).id) };
    },
    async *watchRun(req: wire.WatchRunRequest, isCancelled: () => boolean): AsyncGenerator<wire.WatchRunResponse> {
      const { id } = await findRun(ctx, req.id);
      const finished = (d: wire.RunDetail) => TERMINAL_RUN_STATES.has(d.run!.state as RunState) && d.tasks.every((t) => TERMINAL_TASK_STATES.has(t.state as never));
      for await (const run of watch(ctx, () => runDetail(ctx, id), finished, isCancelled)) yield { run };
    },
    async getTask(req: wire.GetTaskRequest): Promise<wire.GetTaskResponse> {
      return { task: taskToWire(await catalogue.getTask(ctx.sql, checkTaskId(req.id))) };
    },
    async *watchTask(req: wire.WatchTaskRequest, isCancelled: () => boolean): AsyncGenerator<wire.WatchTaskResponse> {
      const id = checkTaskId(req.id);
      const read = async () => taskToWire(await catalogue.getTask(ctx.sql, id));
      for await (const task of watch(ctx, read, (t) => TERMINAL_TASK_STATES.has(t.state as never), isCancelled)) yield { task };
    },
  };
}
