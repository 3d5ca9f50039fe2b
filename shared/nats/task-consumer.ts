// Pulls tasks from a JetStream work queue with a concurrency limit and keeps their acks alive.
//
// A durable pull consumer (explicit acks, `max_ack_pending` = concurrency) is created or updated;
// then `concurrency` worker loops each ask for one message at a time (`next`), so no more than
// `concurrency` tasks are ever held. While a handler runs, `working()` is sent every third of the
// ack wait, so a long merge is not redelivered to someone else. The handler's outcome decides:
// 'ack' (done — success or a reported failure), or a delay to redeliver after (the agent could not
// even report, e.g. NATS was briefly down). Handlers must be idempotent: delivery is at least once.
// Shutdown (`stop`): pulling stops at once; running handlers get a grace period to finish, then
// each one still running is handed back — nak'ed for redelivery elsewhere within seconds, its
// delivery's `signal` aborted so it reports no result — and its outcome is ignored.
import { AckPolicy, DeliverPolicy, jetstream, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logging/index.js';
import { ensureStreams, isNotFound } from './connect.js';

const SECOND_NS = 1_000_000_000;

export interface TaskDelivery {
  data: Uint8Array;
  subject: string;
  /** 1 for the first delivery. */
  deliveryCount: number;
  /** Extend the ack deadline now (also done automatically while the handler runs). */
  working(): void;
  /**
   * Aborted when the task is handed back to the queue (shutdown after the grace period): the
   * handler should stop and must not report a result — the task runs again elsewhere.
   */
  signal?: AbortSignal;
}

export type TaskOutcome = 'ack' | { redeliverAfterMs: number };

export interface TaskConsumerOptions {
  nc: NatsConnection;
  names: Parameters<typeof ensureStreams>[1];
  consumerName: string;
  filterSubject: string;
  /** Tasks handled at once. */
  concurrency: number;
  ackWaitSeconds: number;
  maxDeliver: number;
  handler: (delivery: TaskDelivery) => Promise<TaskOutcome>;
  logger: Logger;
  /** How long one pull waits for a message before asking again, ms (bounds how fast stop() returns). */
  pullExpiresMs?: number;
}

export interface TaskConsumerStopOptions {
  /** How long running handlers may take to finish, ms, before they are handed back; default: no limit. */
  graceMs?: number;
}

export interface TaskConsumer {
  /** Tasks being handled right now. */
  readonly running: number;
  /** Stops pulling, waits for running handlers to end (up to `graceMs`, then hands them back). */
  stop(options?: TaskConsumerStopOptions): Promise<{ handedBack: number }>;
}

interface InFlight {
  msg: JsMsg;
  timer: NodeJS.Timeout;
  controller: AbortController;
  handedBack: boolean;
}

export async function startTaskConsumer(options: TaskConsumerOptions): Promise<TaskConsumer> {
  const jsm = await ensureStreams(options.nc, options.names);
  const stream = options.names.tasksStream;
  const config = {
    durable_name: options.consumerName,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: options.filterSubject,
    ack_wait: options.ackWaitSeconds * SECOND_NS,
    max_ack_pending: options.concurrency,
    max_deliver: options.maxDeliver,
  };
  try {
    await jsm.consumers.info(stream, options.consumerName);
    await jsm.consumers.update(stream, options.consumerName, {
      ack_wait: config.ack_wait,
      max_ack_pending: config.max_ack_pending,
      max_deliver: config.max_deliver,
    });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.consumers.add(stream, config);
  }
  const consumer = await jetstream(options.nc).consumers.get(stream, options.consumerName);
  let stopped = false;
  let running = 0;
  const inFlight = new Set<InFlight>();
  const pullMs = options.pullExpiresMs ?? 2000;
  const log = options.logger.child({ component: 'task-consumer', consumer: options.consumerName });

  const handle = async (msg: JsMsg): Promise<void> => {
    running++;
    const entry: InFlight = {
      msg,
      timer: setInterval(() => msg.working(), Math.max(1000, (options.ackWaitSeconds * 1000) / 3)),
      controller: new AbortController(),
      handedBack: false,
    };
    inFlight.add(entry);
    try {
      const outcome = await options.handler({
        data: msg.data,
        subject: msg.subject,
        deliveryCount: msg.info.deliveryCount,
        working: () => msg.working(),
        signal: entry.controller.signal,
      });
      if (entry.handedBack) return;
      if (outcome === 'ack') await msg.ackAck();
      else msg.nak(outcome.redeliverAfterMs);
    } catch (error) {
      if (entry.handedBack) return;
      log.error({ err: error, subject: msg.subject }, 'task handler failed; redelivering later');
      msg.nak(5000);
    } finally {
      clearInterval(entry.timer);
      inFlight.delete(entry);
      running--;
    }
  };

  const handBack = (): number => {
    for (const entry of inFlight) {
      entry.handedBack = true;
      clearInterval(entry.timer);
      // Redelivered once this agent's own pulls (at most pullMs old) have ended, so it goes elsewhere.
      entry.msg.nak(pullMs + 500);
      entry.controller.abort(new Error('the agent is shutting down; the task was handed back to the queue'));
      log.warn({ subject: entry.msg.subject, delivery: entry.msg.info.deliveryCount }, 'task handed back to the queue');
    }
    return inFlight.size;
  };

  const worker = async (): Promise<void> => {
    while (!stopped) {
      let msg: JsMsg | null = null;
      try {
        msg = await consumer.next({ expires: pullMs });
      } catch (error) {
        if (stopped) break;
        log.warn({ err: error }, 'pulling a task failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (msg && stopped) {
        // Arrived while stopping: never started here, so straight back to the queue.
        msg.nak();
        break;
      }
      if (msg) await handle(msg);
    }
  };
  const workers = Array.from({ length: options.concurrency }, () => worker());
  return {
    get running() {
      return running;
    },
    async stop(stopOptions = {}) {
      stopped = true;
      const all = Promise.all(workers);
      if (stopOptions.graceMs === undefined) {
        await all;
        return { handedBack: 0 };
      }
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), stopOptions.graceMs)));
      const finished = await Promise.race([all.then(() => true), graceOver]);
      clearTimeout(timer);
      if (finished) return { handedBack: 0 };
      const handedBack = handBack();
      // Idle workers end with their pull; handed-back handlers are not waited for.
      await Promise.race([all, new Promise((r) => setTimeout(r, pullMs + 500))]);
      return { handedBack };
    },
  };
}
