// Consumes agents' events from JetStream through a durable pull consumer, acknowledging each only
// after the catalogue has applied it. A coordinator that stops (or crashes) resumes where its
// consumer stands: nothing is lost, and what was applied but not acknowledged is applied again
// harmlessly (the handlers are idempotent). A malformed event is acknowledged and logged; a
// failure to apply one is retried after a pause.
//
// Events are pulled one at a time in stream order and applied up to `parallelism` at once, but
// never two of the same task (or, for heartbeats and inventories, of the same agent) together:
// those are applied in the order they were pulled. A night of thousands of backups is thousands
// of independent tasks, and applying their events one after the other left the catalogue's
// connections idle most of the time (coordinator bench, test/bench/coordinator). Stopping stops
// pulling and waits for the events being applied.
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { InvalidInputError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging/index.js';
import { isNotFound, type NatsNames } from '../../shared/nats/index.js';
import type { AgentEvent } from './agent-event.js';
import { decodeAgentEvent } from './wire-events.js';

const SECOND_NS = 1_000_000_000;

/** The coordinators' durable consumer of the events stream (shared by several coordinators). */
export const COORDINATOR_CONSUMER = 'coordinator';

export interface EventConsumerOptions {
  nc: NatsConnection;
  names: NatsNames;
  handle: (event: AgentEvent) => Promise<void>;
  logger: Logger;
  /** Seconds before an unacknowledged event is delivered again; default 60. */
  ackWaitSeconds?: number;
  /** Milliseconds one pull waits (bounds how fast stop() returns); default 1000. */
  pullExpiresMs?: number;
  /** Milliseconds before a failed event is tried again; default 2000. */
  retryAfterMs?: number;
  /** Events applied at once (of different tasks or agents); default 8. */
  parallelism?: number;
}

export class EventConsumer {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private consumer: Consumer | undefined;
  /** Key (task or agent) → the application of its latest event, which the next one waits for. */
  private readonly chains = new Map<string, Promise<void>>();
  private applying = 0;
  private slotFreed: (() => void) | undefined;

  constructor(private readonly options: EventConsumerOptions) {}

  async start(): Promise<void> {
    const { nc, names } = this.options;
    const jsm = await jetstreamManager(nc);
    const config = {
      durable_name: COORDINATOR_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: names.allEvents,
      ack_wait: (this.options.ackWaitSeconds ?? 60) * SECOND_NS,
      max_ack_pending: 1000,
    };
    try {
      await jsm.consumers.info(names.eventsStream, COORDINATOR_CONSUMER);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.consumers.add(names.eventsStream, config);
    }
    this.consumer = await jetstream(nc).consumers.get(names.eventsStream, COORDINATOR_CONSUMER);
    this.loop = this.run();
  }

  /** Events waiting in the stream for this consumer. */
  async pending(): Promise<number> {
    const info = await this.consumer!.info();
    return info.num_pending + info.num_ack_pending;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    const log = this.options.logger;
    const parallelism = this.options.parallelism ?? 8;
    while (!this.stopped) {
      if (this.applying >= parallelism) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        continue;
      }
      let msg: JsMsg | null = null;
      try {
        msg = await this.consumer!.next({ expires: this.options.pullExpiresMs ?? 1000 });
      } catch (error) {
        if (this.stopped) break;
        log.warn({ err: error }, 'pulling events failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (msg) this.schedule(msg);
    }
    await Promise.all(this.chains.values());
  }

  /** Applies the message after the previous event of the same task or agent. */
  private schedule(msg: JsMsg): void {
    let event: AgentEvent;
    try {
      event = decodeAgentEvent(msg.data);
    } catch (error) {
      this.options.logger.error({ err: error, subject: msg.subject }, 'malformed event dropped');
      msg.ack();
      return;
    }
    const key = event.type === 'heartbeat' || event.type === 'inventory' ? `agent:${event.agentId}` : `task:${event.taskId}`;
    this.applying++;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const done = previous.then(() => this.apply(msg, event)).finally(() => {
      this.applying--;
      if (this.chains.get(key) === done) this.chains.delete(key);
      const freed = this.slotFreed;
      this.slotFreed = undefined;
      freed?.();
    });
    this.chains.set(key, done);
  }

  private async apply(msg: JsMsg, event: AgentEvent): Promise<void> {
    const log = this.options.logger;
    try {
      await this.options.handle(event);
      await msg.ackAck();
    } catch (error) {
      const level = error instanceof InvalidInputError ? 'error' : 'warn';
      log[level]({ err: error, eventId: event.eventId, type: event.type }, 'applying an event failed; it will be delivered again');
      msg.nak(this.options.retryAfterMs ?? 2000);
    }
  }
}
