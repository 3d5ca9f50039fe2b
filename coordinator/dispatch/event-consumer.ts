// Consumes agents' events from JetStream through a durable pull consumer, one at a time and in
// stream order, acknowledging each only after the catalogue has applied it. A coordinator that
// stops (or crashes) resumes where its consumer stands: nothing is lost, and what was applied
// but not acknowledged is applied again harmlessly (the handlers are idempotent). A malformed
// event is acknowledged and logged; a failure to apply one is retried after a pause.
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
}

export class EventConsumer {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private consumer: Consumer | undefined;

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
    while (!this.stopped) {
      let msg: JsMsg | null = null;
      try {
        msg = await this.consumer!.next({ expires: this.options.pullExpiresMs ?? 1000 });
      } catch (error) {
        if (this.stopped) break;
        log.warn({ err: error }, 'pulling events failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (msg) await this.apply(msg);
    }
  }

  private async apply(msg: JsMsg): Promise<void> {
    const log = this.options.logger;
    let event: AgentEvent;
    try {
      event = decodeAgentEvent(msg.data);
    } catch (error) {
      log.error({ err: error, subject: msg.subject }, 'malformed event dropped');
      msg.ack();
      return;
    }
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
