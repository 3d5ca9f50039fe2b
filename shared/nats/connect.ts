// Connects to NATS from config (connection-policy.ts: credentials and TLS), and makes sure
// Deltachain's two streams exist — the coordinator's job only; agents may not touch streams:
//   tasks  — work-queue retention (a task is removed once acked), 2-minute duplicate window so a
//            re-published task id is dropped; subjects `<ns>.tasks.>`.
//   events — limits retention (kept 7 days), subjects `<ns>.events.>`.
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/index.js';
import { connectionPolicy } from './connection-policy.js';
import type { NatsConfig } from './nats-config.js';
import type { NatsNames } from './names.js';
import { readSeedFile } from './nkey-seed.js';

const SECOND_NS = 1_000_000_000;

export interface ConnectNatsOptions {
  /** Where replies to this process go (names.ts agentInbox / coordinatorInbox): its user may read only there. */
  inboxPrefix?: string;
  /** Hears the policy's warnings (plaintext, insecure). */
  logger?: Logger;
  /** How long the first connection may take, ms (nats.js's default: 20 s). */
  timeoutMs?: number;
}

export async function connectNats(config: NatsConfig, name: string, options: ConnectNatsOptions = {}): Promise<NatsConnection> {
  const policy = connectionPolicy(config);
  for (const warning of policy.warnings) options.logger?.warn({ servers: config.servers }, warning);
  const seed = config.seedFile === undefined ? undefined : await readSeedFile(config.seedFile);
  return connect({
    servers: [...config.servers],
    name,
    ...(seed === undefined ? {} : { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed.seed)) }),
    ...(policy.tls === undefined ? {} : { tls: policy.tls }),
    ...(options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix }),
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    maxReconnectAttempts: -1,
  });
}

/**
 * Makes (or updates) the task and event streams. `replicas` (nats.replicas): copies of each in a
 * NATS cluster — the queues' consumers inherit it; a single server takes only 1.
 */
export async function ensureStreams(nc: NatsConnection, names: NatsNames, options: { replicas?: number } = {}): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const num_replicas = options.replicas ?? 1;
  await ensureStream(jsm, names.tasksStream, {
    subjects: [names.allTasks],
    retention: RetentionPolicy.Workqueue,
    duplicate_window: 120 * SECOND_NS,
    num_replicas,
  });
  await ensureStream(jsm, names.eventsStream, {
    subjects: [names.allEvents],
    retention: RetentionPolicy.Limits,
    max_age: 7 * 86_400 * SECOND_NS,
    duplicate_window: 120 * SECOND_NS,
    num_replicas,
  });
  return jsm;
}

async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  config: { subjects: string[]; retention: RetentionPolicy; duplicate_window: number; max_age?: number; num_replicas: number },
): Promise<void> {
  try {
    try {
      await jsm.streams.info(name);
      await jsm.streams.update(name, { subjects: config.subjects, duplicate_window: config.duplicate_window, max_age: config.max_age ?? 0, num_replicas: config.num_replicas });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.streams.add({ name, storage: StorageType.File, ...config });
    }
  } catch (error) {
    if (config.num_replicas > 1 && /replicas|clustered|peers|insufficient resources/i.test(String((error as Error)?.message))) {
      throw new ConfigError(`nats.replicas ${config.num_replicas}: stream ${name} cannot have ${config.num_replicas} copies (${(error as Error).message}); run a NATS cluster of at least ${config.num_replicas} JetStream nodes (docs/multi-site.md, "NATS"), or set nats.replicas to 1 for a single server`, { cause: error });
    }
    throw error;
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
