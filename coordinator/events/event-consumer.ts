// Consumes agents' events from JetStream through a durable pull consumer, acknowledging each only
// after the catalogue has applied it. A coordinator that stops (or crashes) resumes where its
// consumer stands: nothing is lost, and what was applied but not acknowledged is applied again
// harmlessly (the handlers are idempotent). A malformed event is acknowledged and logged; a
// failure to apply one is retried after a pause.
//
// Events stream in (`consume`, the client keeps pulls outstanding) into a buffer, and are applied
// in batches of what has arrived, up to `batchSize`, one batch at a time in stream order — so
// events of one task or one agent are applied in the order they were published. Idle, a batch is
// the one event that came; under load (a night of thousands of backups) it is a few hundred,
// which the handler applies in one transaction (event-handler.ts). A batch's events are
// acknowledged after it was applied (plain acks, then one flush — not a confirmed ack per event,
// which cost a request each); those whose application failed are handed back (nak) to be
// delivered again after `retryAfterMs`. Stopping stops the stream and applies what was buffered.
//
// Each event is read with its envelope: the sender its subject names (the server lets an agent
// publish only under its own role, pool or remote and name) and the time JetStream stored it.
// An event on a subject that names no sender is dropped (acknowledged and logged).
//
// What a coordinator received and had not acknowledged when it died goes to the next active one
// after the consumer's ack wait: EVENT_ACK_WAIT_SECONDS, short so that a takeover does not sit
// on a dead coordinator's results for a minute (a run's follow-ups wait for them). While events
// wait in the buffer or are being applied, they are marked in progress every third of it, so a
// slow batch is not delivered twice.
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { InvalidInputError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging/index.js';
import { isNotFound, type NatsNames } from '../../shared/nats/index.js';
import type { AgentEvent } from './agent-event.js';
import { decodeAgentEvent } from './wire-events.js';

const SECOND_NS = 1_000_000_000;
/** Seconds before an event a coordinator took and did not acknowledge goes to another (or again). */
export const EVENT_ACK_WAIT_SECONDS = 15;

/** Applies events in order; returns, per event, undefined (applied) or why it failed. */
export type BatchHandler = (events: readonly AgentEvent[]) => Promise<(unknown | undefined)[]>;

export interface EventConsumerOptions {
  nc: NatsConnection;
  names: NatsNames;
  /** Applies a batch of events in order (one event is a batch of one). */
  handleBatch: BatchHandler;
  logger: Logger;
  /** Seconds before an unacknowledged event is delivered again; default EVENT_ACK_WAIT_SECONDS. */
  ackWaitSeconds?: number;
  /** Milliseconds one pull request waits on the server (≥ 1000); default 1000. */
  pullExpiresMs?: number;
  /** Milliseconds before a failed event is tried again; default 2000. */
  retryAfterMs?: number;
  /** Most events applied in one batch; default 250. */
  batchSize?: number;
}

export class EventConsumer {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private consumer: Consumer | undefined;
  private messages: ConsumerMessages | undefined;
  private readonly buffer: JsMsg[] = [];
  /** The batch being applied. */
  private applying: readonly JsMsg[] = [];
  private keepAlive: NodeJS.Timeout | undefined;
  private arrived: (() => void) | undefined;

  constructor(private readonly options: EventConsumerOptions) {}

  async start(): Promise<void> {
    const { nc, names } = this.options;
    const jsm = await jetstreamManager(nc);
    const durable = names.coordinatorConsumer;
    const ackWaitSeconds = this.options.ackWaitSeconds ?? EVENT_ACK_WAIT_SECONDS;
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: names.allEvents,
      ack_wait: ackWaitSeconds * SECOND_NS,
      max_ack_pending: 1000,
    };
    try {
      const info = await jsm.consumers.info(names.eventsStream, durable);
      // A consumer made with another wait (by an older coordinator) gets this one's.
      if (info.config.ack_wait !== config.ack_wait) await jsm.consumers.update(names.eventsStream, durable, { ack_wait: config.ack_wait });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.consumers.add(names.eventsStream, config);
    }
    this.consumer = await jetstream(nc).consumers.get(names.eventsStream, durable);
    this.keepAlive = setInterval(() => {
      for (const msg of this.applying) msg.working();
      for (const msg of this.buffer) msg.working();
    }, (ackWaitSeconds * 1000) / 3);
    this.loop = Promise.all([this.receive(), this.applyLoop()]).then(() => undefined);
  }

  /** Events waiting in the stream for this consumer. */
  async pending(): Promise<number> {
    const info = await this.consumer!.info();
    return info.num_pending + info.num_ack_pending;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    this.wakeApplier();
    await this.loop;
    clearInterval(this.keepAlive);
  }

  private wakeApplier(): void {
    const arrived = this.arrived;
    this.arrived = undefined;
    arrived?.();
  }

  /** Streams messages into the buffer until stopped (re-opening the stream after an error). */
  private async receive(): Promise<void> {
    const batch = this.options.batchSize ?? 250;
    while (!this.stopped) {
      try {
        this.messages = await this.consumer!.consume({ max_messages: batch * 2, expires: Math.max(1000, this.options.pullExpiresMs ?? 1000) });
        if (this.stopped) this.messages.stop();
        for await (const msg of this.messages) {
          this.buffer.push(msg);
          this.wakeApplier();
        }
        if (!this.stopped) {
          this.options.logger.warn('the event stream ended; consuming again');
          await new Promise((r) => setTimeout(r, 1000));
        }
      } catch (error) {
        if (this.stopped) break;
        this.options.logger.warn({ err: error }, 'pulling events failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.wakeApplier();
  }

  /** Applies what has arrived, a batch at a time, until stopped and the buffer is empty. */
  private async applyLoop(): Promise<void> {
    const batch = this.options.batchSize ?? 250;
    for (;;) {
      if (this.buffer.length === 0) {
        if (this.stopped) return;
        await new Promise<void>((resolve) => (this.arrived = resolve));
        continue;
      }
      await this.applyBatch(this.buffer.splice(0, batch));
    }
  }

  private async applyBatch(msgs: JsMsg[]): Promise<void> {
    const log = this.options.logger;
    const decoded: { msg: JsMsg; event: AgentEvent }[] = [];
    for (const msg of msgs) {
      try {
        decoded.push({ msg, event: this.decode(msg) });
      } catch (error) {
        log.error({ err: error, subject: msg.subject }, 'event refused (malformed, or not its sender\'s to send) and dropped');
        msg.ack();
      }
    }
    if (decoded.length === 0) return;
    this.applying = msgs;
    const failures = await this.handle(decoded.map((d) => d.event)).finally(() => (this.applying = []));
    decoded.forEach(({ msg, event }, i) => {
      const error = failures[i];
      if (error === undefined) return msg.ack();
      const level = error instanceof InvalidInputError ? 'error' : 'warn';
      log[level]({ err: error, eventId: event.eventId, type: event.type }, 'applying an event failed; it will be delivered again');
      msg.nak(this.options.retryAfterMs ?? 2000);
    });
    // The acks are sent when the server has answered a ping after them; an ack lost all the same
    // means the event is delivered and applied again, harmlessly.
    await this.options.nc.flush().catch((e: unknown) => log.warn({ err: e }, 'flushing acknowledgements failed; their events may be applied again'));
  }

  /** The event with its envelope: the sender its subject names, JetStream's time. */
  private decode(msg: JsMsg): AgentEvent {
    const from = this.options.names.parseEvent(msg.subject);
    if (from === undefined) throw new InvalidInputError(`an event on ${msg.subject} names no sender (expected <ns>.events.<host|storage>.<pool or remote>.<agent>.<kind>)`);
    return decodeAgentEvent(msg.data, { ...from, at: new Date(Math.floor(msg.info.timestampNanos / 1e6)) });
  }

  private async handle(events: readonly AgentEvent[]): Promise<(unknown | undefined)[]> {
    try {
      return await this.options.handleBatch(events);
    } catch (error) {
      return events.map(() => error);
    }
  }
}
