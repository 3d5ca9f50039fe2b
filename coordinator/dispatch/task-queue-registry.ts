// The task queue (durable JetStream consumer) of every registered pool and remote, made by the
// coordinator — agents may not create consumers. A queue is made at start for every pool and
// remote in the catalogue, when one is registered through the control API, and before any task
// is published to it (in case the first two failed, e.g. NATS was down). Each is made once per
// process: ensureTaskConsumer also updates settings, which the start already did.
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../../shared/logging/index.js';
import { ensureTaskConsumer, type AgentRole, type NatsNames, type TaskQueueSettings } from '../../shared/nats/index.js';
import { listPools, listRemotes, type Catalogue } from '../catalogue/index.js';

export class TaskQueueRegistry {
  private readonly made = new Set<string>();

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly names: NatsNames,
    private readonly settings: TaskQueueSettings,
    private readonly logger: Logger,
  ) {}

  /** Makes the queue of `scope` unless this process already did. */
  async ensure(role: AgentRole, scope: string): Promise<void> {
    const key = this.names.consumerOf(role, scope);
    if (this.made.has(key)) return;
    await ensureTaskConsumer(this.jsm, this.names, role, scope, this.settings);
    this.made.add(key);
    this.logger.info({ role, scope, queue: key }, 'task queue ready');
  }

  /** The queues of every pool and remote in the catalogue. */
  async ensureRegistered(sql: Catalogue): Promise<void> {
    for (const pool of await listPools(sql)) await this.ensure('host', pool.name);
    for (const remote of await listRemotes(sql)) await this.ensure('storage', remote.name);
  }

  /** ensure(), logging a failure instead of throwing (a later publish tries again). */
  async ensureOrLog(role: AgentRole, scope: string): Promise<void> {
    await this.ensure(role, scope).catch((error: unknown) => this.logger.warn({ err: error, role, scope }, 'task queue not made yet; tried again before its first task'));
  }
}
