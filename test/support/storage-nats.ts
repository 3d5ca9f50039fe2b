// NATS for agent tests: a namespace of its own per run (so streams and consumers never clash
// with other runs or engineers) on the machine's open server, an event collector, task
// publishing, and cleanup that deletes the streams. The harness plays the coordinator's part on
// NATS: it makes the streams and each task queue (agents may not); `queue` makes one with the
// test's ack wait, and `publish` makes the addressee's queue when the test did not.
import { randomBytes, randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { connectNats, deleteStreams, ensureStreams, ensureTaskConsumer, natsNames, publishTask, decodeEvent, natsSchema, type AgentRole, type NatsNames } from '../../shared/nats/index.js';
import type { Event } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { TaskKind, type Task } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import { testTaskKeys } from './task-keys.js';
import type { Signer } from '../../shared/signing/index.js';

export const NATS_URL = 'nats://127.0.0.1:4222';

export interface TestNats {
  nc: NatsConnection;
  names: NatsNames;
  namespace: string;
  events: Event[];
  /** Resolves with the first event (already seen or coming) that matches. */
  waitForEvent(match: (e: Event) => boolean, timeoutMs?: number, what?: string): Promise<Event>;
  /** Publishes a task as the coordinator would: signed (default: with the tests' key, testTaskKeys; `null`: unsigned). */
  publish(task: Task, signer?: Signer | null): Promise<void>;
  /** Makes (or updates) the task queue of a pool (host) or remote (storage), as the coordinator does. */
  queue(role: AgentRole, scope: string, settings?: { ackWaitSeconds?: number; maxDeliver?: number }): Promise<void>;
  close(): Promise<void>;
}

/** The `nats` section of an agent config on the test's namespace: the machine's open NATS. */
export function testNatsSection(namespace: string, extra: Record<string, unknown> = {}): { servers: string[]; namespace: string; insecure: true } & Record<string, unknown> {
  return { servers: [NATS_URL], namespace, insecure: true, ...extra };
}

export async function startTestNats(): Promise<TestNats> {
  const namespace = `dctest-${randomBytes(4).toString('hex')}`;
  const names = natsNames(namespace);
  const nc = await connectNats(natsSchema.parse(testNatsSection(namespace)), 'deltachain-test');
  const jsm = await ensureStreams(nc, names);
  const queues = new Set<string>();
  const queue = async (role: AgentRole, scope: string, settings: { ackWaitSeconds?: number; maxDeliver?: number } = {}): Promise<void> => {
    await ensureTaskConsumer(jsm, names, role, scope, { ackWaitSeconds: settings.ackWaitSeconds ?? 30, maxDeliver: settings.maxDeliver ?? 20 });
    queues.add(names.consumerOf(role, scope));
  };
  const events: Event[] = [];
  const waiters = new Set<{ match: (e: Event) => boolean; resolve: (e: Event) => void }>();
  const sub: Subscription = nc.subscribe(names.allEvents);
  void (async () => {
    for await (const msg of sub) {
      const event = decodeEvent(msg.data);
      events.push(event);
      for (const w of waiters) if (w.match(event)) (waiters.delete(w), w.resolve(event));
    }
  })();
  return {
    nc,
    names,
    namespace,
    events,
    waitForEvent(match, timeoutMs = 30_000, what = 'event') {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve: (e: Event) => (clearTimeout(timer), resolve(e)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no ${what} within ${timeoutMs} ms (${events.length} events seen)`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async publish(task, signer) {
      const role: AgentRole = task.target?.agent?.$case === 'poolId' ? 'host' : 'storage';
      const scope = task.target?.agent?.value ?? 'none';
      if (!queues.has(names.consumerOf(role, scope))) await queue(role, scope);
      await publishTask(nc, names.tasksOf(role, scope), task, signer === null ? undefined : (signer ?? testTaskKeys().signer));
    },
    queue,
    async close() {
      sub.unsubscribe();
      await deleteStreams(jsm, names);
      await nc.drain();
    },
  };
}

const KIND: Record<string, TaskKind> = {
  merge: TaskKind.TASK_KIND_MERGE,
  verify: TaskKind.TASK_KIND_VERIFY,
  delete: TaskKind.TASK_KIND_DELETE,
  scan: TaskKind.TASK_KIND_SCAN,
  mirror: TaskKind.TASK_KIND_MIRROR,
};

/** A storage task envelope for `remoteId`. */
export function storageTask(remoteId: string, payload: NonNullable<Task['payload']>): Task {
  return {
    taskId: randomUUID(),
    kind: KIND[payload.$case] ?? TaskKind.TASK_KIND_UNSPECIFIED,
    target: { agent: { $case: 'remoteId', value: remoteId } },
    attempt: 1,
    createdAtMs: Date.now(),
    deadlineMs: 0,
    expiresAtMs: 0, signedAtMs: 0,
    runId: '', leaderTerm: 0,
    payload,
  };
}

export function resultOf(nats: TestNats, taskId: string, timeoutMs = 60_000): Promise<Event> {
  return nats.waitForEvent((e) => e.taskId === taskId && e.body?.$case === 'result', timeoutMs, `result of task ${taskId}`);
}
