// The durable consumer of each pool's and remote's tasks, created by the coordinator (agents may
// not create consumers): `host-<pool>` filtered on `<ns>.tasks.host.<pool>`, `storage-<remote>`
// on `<ns>.tasks.storage.<remote>`. All the agents of one pool share its consumer, so a task goes
// to one of them. Each agent pulls at most its own concurrency; `maxAckPending` only bounds the
// tasks out at once across all of them. Creating one that exists updates its settings; so this
// runs at every coordinator start and whenever a pool or remote is registered.
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { isNotFound } from './connect.js';
import type { AgentRole, NatsNames } from './names.js';

const SECOND_NS = 1_000_000_000;

export interface TaskQueueSettings {
  /** How long JetStream waits for an ack before redelivering; agents extend it while they work. */
  ackWaitSeconds: number;
  /** Deliveries of one task before JetStream gives up on it. */
  maxDeliver: number;
  /** Tasks delivered and not yet acknowledged, over all agents of the queue; default 1000. */
  maxAckPending?: number;
}

export async function ensureTaskConsumer(jsm: JetStreamManager, names: NatsNames, role: AgentRole, scope: string, settings: TaskQueueSettings): Promise<void> {
  const stream = names.tasksStream;
  const name = names.consumerOf(role, scope);
  const tunables = { ack_wait: settings.ackWaitSeconds * SECOND_NS, max_deliver: settings.maxDeliver, max_ack_pending: settings.maxAckPending ?? 1000 };
  try {
    await jsm.consumers.info(stream, name);
    await jsm.consumers.update(stream, name, tunables);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: names.tasksOf(role, scope), ...tunables });
  }
}
