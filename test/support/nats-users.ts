// Connections to a lab stack's own nats-server as one of its users (the coordinator, or an
// agent with its stolen seed): what a security test attacks with. The server's asynchronous
// refusals (a subscription it would not allow) are kept in `refusals`. `eventsApplied` waits
// until the coordinator has acknowledged every event stored so far — after it, an event the
// coordinator ignored has been seen and ignored, not merely not yet read.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, natsNames, natsSchema, type EventSender, type NatsNames } from '../../shared/nats/index.js';
import type { LabStack } from '../../lab/story/index.js';

export interface NatsUserConnection {
  nc: NatsConnection;
  names: NatsNames;
  /** Errors the server sent without a request to fail (permission violations of subscriptions). */
  refusals: string[];
  close(): Promise<void>;
}

export async function connectAs(stack: LabStack, who: 'coordinator' | EventSender, o: { inboxPrefix?: string } = {}): Promise<NatsUserConnection> {
  const names = natsNames(stack.options.nats.namespace);
  const config = natsSchema.parse({ servers: [stack.nats.url], namespace: names.namespace, seedFile: stack.nats.seedOf(who) });
  const inboxPrefix = o.inboxPrefix ?? (who === 'coordinator' ? names.coordinatorInbox : names.agentInbox(who));
  const nc = await connectNats(config, 'security-test', { inboxPrefix });
  const refusals: string[] = [];
  void (async () => {
    for await (const status of nc.status()) if (status.type === 'error') refusals.push(String(status.error?.message ?? status.error));
  })();
  return { nc, names, refusals, close: () => nc.close() };
}

/** Waits until the coordinator's consumer has acknowledged every event the stream holds. */
export async function eventsApplied(coordinator: NatsUserConnection, timeoutMs = 20_000): Promise<void> {
  const jsm = await jetstreamManager(coordinator.nc);
  const { names } = coordinator;
  const deadline = Date.now() + timeoutMs;
  const last = (await jsm.streams.info(names.eventsStream)).state.last_seq;
  for (;;) {
    const info = await jsm.consumers.info(names.eventsStream, names.coordinatorConsumer);
    if (info.ack_floor.stream_seq >= last) return;
    if (Date.now() > deadline) throw new Error(`the coordinator had not applied event ${last} within ${timeoutMs} ms (acknowledged up to ${info.ack_floor.stream_seq})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
