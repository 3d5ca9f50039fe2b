// Senders for events built in tests: the agent a task was addressed to (a pool's host agent,
// a remote's storage agent), as the coordinator reads it from an event's subject.
import type { EventSender } from '../../shared/nats/index.js';

export function addresseeOf(task: { addressKind: 'pool' | 'remote'; address: string }, agent = 'agent'): EventSender {
  return { role: task.addressKind === 'pool' ? 'host' : 'storage', scope: task.address, agent };
}
