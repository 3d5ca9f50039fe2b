// Connects to NATS from config and makes sure Deltachain's two streams exist:
//   tasks  — work-queue retention (a task is removed once acked), 2-minute duplicate window so a
//            re-published task id is dropped; subjects `<ns>.tasks.>`.
//   events — limits retention (kept 7 days), subjects `<ns>.events.>`.
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConfig } from './nats-config.js';
import type { NatsNames } from './names.js';

const SECOND_NS = 1_000_000_000;

export async function connectNats(config: NatsConfig, name: string): Promise<NatsConnection> {
  return connect({
    servers: [...config.servers],
    name,
    user: config.user,
    pass: config.password,
    token: config.token,
    maxReconnectAttempts: -1,
  });
}

export async function ensureStreams(nc: NatsConnection, names: NatsNames): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, names.tasksStream, {
    subjects: [names.allTasks],
    retention: RetentionPolicy.Workqueue,
    duplicate_window: 120 * SECOND_NS,
  });
  await ensureStream(jsm, names.eventsStream, {
    subjects: [names.allEvents],
    retention: RetentionPolicy.Limits,
    max_age: 7 * 86_400 * SECOND_NS,
    duplicate_window: 120 * SECOND_NS,
  });
  return jsm;
}

async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  config: { subjects: string[]; retention: RetentionPolicy; duplicate_window: number; max_age?: number },
): Promise<void> {
  try {
    await jsm.streams.info(name);
    await jsm.streams.update(name, { subjects: config.subjects, duplicate_window: config.duplicate_window, max_age: config.max_age ?? 0 });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add({ name, storage: StorageType.File, ...config });
  }
}

export function isNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown; name?: unknown };
  return e?.name === 'StreamNotFoundError' || e?.name === 'ConsumerNotFoundError' || /not found/i.test(String(e?.message ?? ''));
}

/** Removes the streams (tests). */
export async function deleteStreams(jsm: JetStreamManager, names: NatsNames): Promise<void> {
  for (const stream of [names.tasksStream, names.eventsStream]) {
    await jsm.streams.delete(stream).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }
}
