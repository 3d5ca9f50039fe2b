// A task's events are its addressee's alone: a pool's tasks are reported by that pool's host
// agents, a remote's by that remote's storage agent. The sender is the event's subject, which
// the NATS server authorised (a host agent of pool P can only publish as one), so an event
// about a task addressed elsewhere — a forged result for another pool's backup, a stray
// storage agent's "success" of a delete — is logged and ignored, changing nothing.
// Heartbeats and inventory are checked against their subject as they are decoded (wire-events.ts).
import type { Logger } from '../../shared/logging/index.js';
import { describeSender, type EventSender } from '../../shared/nats/index.js';
import { taskAddresses, type Queryable, type TaskRecord } from '../catalogue/index.js';
import { isTaskEvent, type AgentEvent } from './agent-event.js';

type Addressed = Pick<TaskRecord, 'addressKind' | 'address'>;

export function mayReport(sender: EventSender, task: Addressed): boolean {
  const role = task.addressKind === 'pool' ? 'host' : 'storage';
  return sender.role === role && sender.scope === task.address;
}

/** The task events of `events` whose sender is not their task's addressee (logged). */
export async function foreignEvents(db: Queryable, events: readonly AgentEvent[], logger: Logger): Promise<Set<AgentEvent>> {
  const ids = [...new Set(events.flatMap((e) => (isTaskEvent(e) ? [e.taskId] : [])))];
  const foreign = new Set<AgentEvent>();
  if (ids.length === 0) return foreign;
  const rows = await taskAddresses(db, ids);
  const tasks = new Map(rows.map((t) => [t.id, t]));
  for (const event of events) {
    if (!isTaskEvent(event)) continue;
    const task = tasks.get(event.taskId);
    if (task === undefined || mayReport(event.sender, task)) continue;
    foreign.add(event);
    logger.warn(
      { taskId: event.taskId, type: event.type, sender: describeSender(event.sender), addressedTo: `${task.addressKind} ${task.address}` },
      'event about a task addressed to another pool or remote ignored',
    );
  }
  return foreign;
}
