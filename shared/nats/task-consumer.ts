// Pulls tasks from a JetStream work queue with a concurrency limit and keeps their acks alive.
//
// The queue's durable consumer is the coordinator's to create (task-queues.ts) when its pool or
// remote is registered; an agent may only read and pull from it. Until it exists the agent
// waits, saying what to run ("pool lab is not registered: run `deltachain pool add lab`"), and
// looks again every `registrationPollMs`. Then `concurrency` worker loops each ask for one
// message at a time (`next`), so no more than `concurrency` tasks are ever held. While a handler
// runs, `working()` is sent every third of the consumer's ack wait, so a long merge is not
// redelivered to someone else. The handler's outcome decides: 'ack' (done — success or a
// reported failure), or a delay to redeliver after (the agent could not even report, e.g. NATS
// was briefly down). Handlers must be idempotent: delivery is at least once.
// Shutdown (`stop`): pulling stops at once; running handlers get a grace period to finish, then
// each one still running is handed back — nak'ed for redelivery elsewhere within seconds, its
// delivery's `signal` aborted so it reports no result — and its outcome is ignored.
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logging/index.js';
import { TASK_SIGNATURE_HEADER } from '../task-trust/index.js';
import { isNotFound } from './connect.js';
import type { AgentRole, NatsNames } from './names.js';

const SECOND_NS = 1_000_000_000;

export interface TaskDelivery {
  data: Uint8Array;
  subject: string;
  /** The coordinator's signature (header Deltachain-Task-Signature); undefined when absent. */
  signature?: string;
  /** The message's stream sequence (the same for every redelivery of one message). */
  sequence?: number;
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
  names: NatsNames;
  /** Whose queue: a pool's (host) or a remote's (storage). */
  role: AgentRole;
  scope: string;
  /** Tasks handled at once. */
  concurrency: number;
  handler: (delivery: TaskDelivery) => Promise<TaskOutcome>;
  logger: Logger;
  /** How long one pull waits for a message before asking again, ms (bounds how fast stop() returns). */
  pullExpiresMs?: number;
  /** How often to look for a queue that does not exist yet, ms; default 5000. */
  registrationPollMs?: number;
}

export interface TaskConsumerStopOptions {
  /** How long running handlers may take to finish, ms, before they are handed back; default: no limit. */
  graceMs?: number;
}

export interface TaskConsumer {
  /** Tasks being handled right now. */
  readonly running: number;
  /** True once the queue exists and tasks are pulled. */
  readonly pulling: boolean;
  /** Resolves when pulling starts (or the consumer is stopped first). */
  readonly ready: Promise<void>;
  /** Stops pulling, waits for running handlers to end (up to `graceMs`, then hands them back). */
  stop(options?: TaskConsumerStopOptions): Promise<{ handedBack: number }>;
}

interface InFlight {
  msg: JsMsg;
  timer: NodeJS.Timeout;
  controller: AbortController;
  handedBack: boolean;
}

/** What an operator runs so that the queue of `scope` exists. */
export function notRegisteredAdvice(role: AgentRole, scope: string): string {
  return role === 'host' ? `pool ${scope} is not registered: run \`deltachain pool add ${scope}\`` : `remote ${scope} is not registered: run \`deltachain remote add ${scope} --address HOST:PORT\``;
}

class PullingConsumer implements TaskConsumer {
  private stopped = false;
  private wake: (() => void) | undefined;
  private runningCount = 0;
  private bound = false;
  private readonly inFlight = new Set<InFlight>();
  private readonly pullMs: number;
  private readonly log: Logger;
  private loops: Promise<unknown> = Promise.resolve();
  readonly ready: Promise<void>;

  constructor(private readonly options: TaskConsumerOptions) {
    this.pullMs = options.pullExpiresMs ?? 2000;
    this.log = options.logger.child({ component: 'task-consumer', consumer: options.names.consumerOf(options.role, options.scope) });
    this.ready = this.bind().then((consumer) => {
      if (consumer === undefined) return;
      this.loops = Promise.all(Array.from({ length: options.concurrency }, () => this.worker(consumer.consumer, consumer.ackWaitMs)));
    });
  }

  get running(): number {
    return this.runningCount;
  }

  get pulling(): boolean {
    return this.bound && !this.stopped;
  }

  /** Waits until the queue's consumer exists; undefined when stopped first. */
  private async bind(): Promise<{ consumer: Consumer; ackWaitMs: number } | undefined> {
    const { nc, names, role, scope } = this.options;
    const name = names.consumerOf(role, scope);
    let told = false;
    while (!this.stopped) {
      try {
        const consumer = await jetstream(nc).consumers.get(names.tasksStream, name);
        const info = await consumer.info(true);
        this.bound = true;
        if (told) this.log.info({ scope }, 'task queue found; pulling tasks');
        return { consumer, ackWaitMs: Math.max(1000, (info.config.ack_wait ?? 30 * SECOND_NS) / 1e6) };
      } catch (error) {
        if (this.stopped) break;
        if (!told) {
          if (isNotFound(error)) this.log.warn({ scope, queue: name }, `${notRegisteredAdvice(role, scope)} (waiting for its task queue)`);
          else this.log.warn({ err: error, scope, queue: name }, 'cannot read this agent\'s task queue; is its NATS user in the server\'s authorization (`deltachain nats-config`)? waiting');
          told = true;
        }
        await this.pause(this.options.registrationPollMs ?? 1000);
      }
    }
    return undefined;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => ((this.wake = undefined), resolve()), ms);
      this.wake = () => (clearTimeout(timer), resolve());
    });
  }

  private async handle(msg: JsMsg, ackWaitMs: number): Promise<void> {
    this.runningCount++;
    const entry: InFlight = { msg, timer: setInterval(() => msg.working(), Math.max(1000, ackWaitMs / 3)), controller: new AbortController(), handedBack: false };
    this.inFlight.add(entry);
    try {
      const signature = msg.headers?.get(TASK_SIGNATURE_HEADER) || undefined;
      const delivery: TaskDelivery = { data: msg.data, subject: msg.subject, signature, sequence: msg.seq, deliveryCount: msg.info.deliveryCount, working: () => msg.working(), signal: entry.controller.signal };
      const outcome = await this.options.handler(delivery);
      if (entry.handedBack) return;
      if (outcome === 'ack') await msg.ackAck();
      else msg.nak(outcome.redeliverAfterMs);
    } catch (error) {
      if (entry.handedBack) return;
      this.log.error({ err: error, subject: msg.subject }, 'task handler failed; redelivering later');
      msg.nak(5000);
    } finally {
      clearInterval(entry.timer);
      this.inFlight.delete(entry);
      this.runningCount--;
    }
  }

  private handBack(): number {
    for (const entry of this.inFlight) {
      entry.handedBack = true;
      clearInterval(entry.timer);
      // Redelivered once this agent's own pulls (at most pullMs old) have ended, so it goes elsewhere.
      entry.msg.nak(this.pullMs + 500);
      entry.controller.abort(new Error('the agent is shutting down; the task was handed back to the queue'));
      this.log.warn({ subject: entry.msg.subject, delivery: entry.msg.info.deliveryCount }, 'task handed back to the queue');
    }
    return this.inFlight.size;
  }

  private async worker(consumer: Consumer, ackWaitMs: number): Promise<void> {
    while (!this.stopped) {
      let msg: JsMsg | null = null;
      try {
        msg = await consumer.next({ expires: this.pullMs });
      } catch (error) {
        if (this.stopped) break;
        this.log.warn({ err: error }, 'pulling a task failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (msg && this.stopped) {
        // Arrived while stopping: never started here, so straight back to the queue.
        msg.nak();
        break;
      }
      if (msg) await this.handle(msg, ackWaitMs);
    }
  }

  async stop(stopOptions: TaskConsumerStopOptions = {}): Promise<{ handedBack: number }> {
    this.stopped = true;
    this.wake?.();
    await this.ready;
    const all = this.loops;
    if (stopOptions.graceMs === undefined) {
      await all;
      return { handedBack: 0 };
    }
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), stopOptions.graceMs)));
    const finished = await Promise.race([all.then(() => true), graceOver]);
    clearTimeout(timer);
    if (finished) return { handedBack: 0 };
    const handedBack = this.handBack();
    // Idle workers end with their pull; handed-back handlers are not waited for.
    await Promise.race([all, new Promise((r) => setTimeout(r, this.pullMs + 500))]);
    return { handedBack };
  }
}

/** Starts pulling `role`/`scope`'s tasks as soon as its queue exists; returns at once. */
export function startTaskConsumer(options: TaskConsumerOptions): TaskConsumer {
  return new PullingConsumer(options);
}
