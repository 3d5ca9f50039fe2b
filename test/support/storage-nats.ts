// NATS for storage tests: a namespace of its own per run (so streams and consumers never clash
// with other runs or engineers), an event collector on the real server, task publishing, and
// cleanup that deletes the streams.
import { randomBytes, randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { connectNats, deleteStreams, ensureStreams, natsNames, publishTask, decodeEvent, natsSchema, type NatsNames } from '../../shared/nats/index.js';
import type { Event } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { TaskKind, type Task } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';

export const NATS_URL = 'nats://127.0.0.1:4222';

export interface TestNats {
  nc: NatsConnection;
  names: NatsNames;
  namespace: string;
  events: Event[];
  /** Resolves with the first event (already seen or coming) that matches. */
  waitForEvent(match: (e: Event) => boolean, timeoutMs?: number, what?: string): Promise<Event>;
  publish(task: Task): Promise<void>;
  close(): Promise<void>;
}

export async function startTestNats(): Promise<TestNats> {
  const namespace = `dctest-${randomBytes(4).toString('hex')}`;
  const names = natsNames(namespace);
  const nc = await connectNats(natsSchema.parse({ servers: [NATS_URL], namespace }), 'deltachain-test');
  const jsm = await ensureStreams(nc, names);
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
    publish: (task) => publishTask(nc, names.storageTasks(task.target?.agent?.value ?? 'none'), task),
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
    expiresAtMs: 0,
    runId: '',
    payload,
  };
}

export function resultOf(nats: TestNats, taskId: string, timeoutMs = 60_000): Promise<Event> {
  return nats.waitForEvent((e) => e.taskId === taskId && e.body?.$case === 'result', timeoutMs, `result of task ${taskId}`);
}
