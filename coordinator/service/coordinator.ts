// The coordinator process: the catalogue (migrated at start), the lease, the event consumer, the
// dispatcher, the scheduler and the control API, started in that order and stopped in reverse.
// Several coordinators may share one catalogue: all serve the control API, one at a time — the
// holder of the lease (leadership.ts) — runs the event consumer, dispatcher and scheduler.
//
// NATS: the coordinator makes the streams and the task queue of every registered pool and
// remote (agents have no right to); see shared/nats/nats-permissions.ts.
//
// Restart safety: all state is in Postgres. At start the consumer first catches up with the
// events that arrived while the coordinator was down (bounded wait), then every task still
// marked dispatched is published again with its original message id (JetStream drops it if it
// was stored before), and overdue tasks time out on the first dispatch round.
//
// Observability (when `metrics` is configured): /healthz says "starting" until the control API
// is up, then checks the catalogue and NATS; /metrics reads the catalogue at scrape time
// (catalogue-metrics.ts). A stop marks the process "stopping" first, closes the server last.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import { Gauge } from 'prom-client';
import { channelCredentials, isMutualTls, serverCredentials, warnIfInsecure } from '../../shared/grpc/credentials.js';
import { readSigner, type Signer } from '../../shared/signing/index.js';
import { ConfigError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging/index.js';
import { connectNats, ensureStreams, natsNames } from '../../shared/nats/index.js';
import { natsCheck, startProcessObservability, type ProcessObservability } from '../../shared/observability/index.js';
import { startControlServer, type ControlEndpoint, type ControlServer } from '../api/control-server.js';
import { connectCatalogue, migrateCatalogue, pingCatalogue, type Catalogue } from '../catalogue/index.js';
import { readDigestKey, sealCatalogue, useDigestKey } from '../catalogue/digest-seals.js';
import { Dispatcher } from '../dispatch/dispatcher.js';
import { EventConsumer } from '../events/event-consumer.js';
import { EventHandler } from '../events/event-handler.js';
import { NatsTaskPublisher } from '../dispatch/nats-task-publisher.js';
import { TaskQueueRegistry } from '../dispatch/task-queue-registry.js';
import { StorageBackupLookup } from '../events/storage-backup-lookup.js';
import { backoffDelay, DEFAULT_TASK_LIMITS, type TaskLimits } from '../lifecycle/index.js';
import { Scheduler } from '../scheduler/index.js';
import { randomIds, type Ids } from '../tasks/index.js';
import { registerCatalogueMetrics } from './catalogue-metrics.js';
import { Leadership } from './leadership.js';
import type { CoordinatorConfig } from './coordinator-config.js';

export const COORDINATOR_VERSION = '0.1.0';

/** What the active coordinator's services are made of (the same for every term). */
interface ActiveParts {
  log: Logger;
  sql: Catalogue;
  nc: NatsConnection;
  names: ReturnType<typeof natsNames>;
  queues: TaskQueueRegistry;
  lookup: StorageBackupLookup;
  clock: () => Date;
  ids: Ids;
  limits: TaskLimits;
  retryDelay: (attempt: number) => number;
  signer: Signer | undefined;
}

export interface CoordinatorDeps {
  logger: Logger;
  clock?: () => Date;
  ids?: Ids;
  random?: () => number;
  /** Longest wait for the event backlog at start, milliseconds; default 5000. */
  catchUpMs?: number;
}

function taskLimits(config: CoordinatorConfig): TaskLimits {
  const limits = { ...DEFAULT_TASK_LIMITS };
  for (const kind of Object.keys(limits) as (keyof TaskLimits)[]) limits[kind] = { ...limits[kind], ...config.tasks[kind] };
  return limits;
}

export class Coordinator {
  private sql: Catalogue | undefined;
  private nc: NatsConnection | undefined;
  private consumer: EventConsumer | undefined;
  private dispatcher: Dispatcher | undefined;
  private scheduler: Scheduler | undefined;
  private server: ControlServer | undefined;
  private observability: ProcessObservability | undefined;
  private lookup: StorageBackupLookup | undefined;
  private leadership: Leadership | undefined;

  constructor(private readonly config: CoordinatorConfig, private readonly deps: CoordinatorDeps) {}

  /** The control API's port (after start). */
  get apiPort(): number {
    return this.server?.port ?? 0;
  }

  /** The control API's socket path (after start), when it serves one. */
  get apiSocket(): string | undefined {
    return this.server?.socket;
  }

  /** "host:port" of /healthz and /metrics (after start, when configured). */
  get observabilityAddress(): string | undefined {
    return this.observability?.server?.address;
  }

  async start(): Promise<void> {
    const { config, deps } = this;
    this.observability = await startProcessObservability({ role: 'coordinator', version: COORDINATOR_VERSION, config: config.metrics, logger: deps.logger });
    try {
      await this.startServices();
    } catch (error) {
      await this.observability.close();
      throw error;
    }
  }

  private async startServices(): Promise<void> {
    const { config, deps } = this;
    const observability = this.observability!;
    const log = deps.logger;
    const clock = deps.clock ?? (() => new Date());
    const ids = deps.ids ?? randomIds;
    const random = deps.random ?? Math.random;
    const limits = taskLimits(config);
    const retryDelay = (attempt: number) => backoffDelay(attempt, config.retry, random());
    const apiEndpoints = this.apiEndpoints();
    const signer = this.grantSigner();
    channelCredentials(config.storage.tls); // reads the files now: a bad path stops the start, not the first lookup
    const storageCredentials = (remote: string) => channelCredentials(config.storage.tls, { role: 'storage', name: remote });
    warnIfInsecure(log, 'storage.tls', config.storage.tls, 'client');

    this.sql = connectCatalogue(config.database.url, { maxConnections: config.database.maxConnections });
    const catalogue = this.sql;
    observability.health.add('catalogue', async () => {
      await pingCatalogue(catalogue);
      return { ok: true, detail: 'answering' };
    });
    const migrated = await migrateCatalogue(this.sql);
    log.info({ version: migrated.version, applied: migrated.applied.length }, 'catalogue ready');
    await this.useDigestKey(this.sql);

    const names = natsNames(config.nats.namespace);
    this.nc = await connectNats(config.nats, 'deltachain-coordinator', { inboxPrefix: names.coordinatorInbox, logger: log });
    const jsm = await ensureStreams(this.nc, names, { replicas: config.nats.replicas });
    observability.health.add('nats', natsCheck(this.nc));

    const sql = this.sql;
    const queues = new TaskQueueRegistry(jsm, names, { ackWaitSeconds: config.nats.ackWaitSeconds, maxDeliver: config.nats.maxDeliver }, log.child({ component: 'task-queues' }));
    await queues.ensureRegistered(sql);
    this.lookup = new StorageBackupLookup(sql, storageCredentials);
    const lookup = this.lookup;
    const nc = this.nc;
    const active: ActiveParts = { log, sql, nc, names, queues, lookup, clock, ids, limits, retryDelay, signer };
    const holder = `${config.leadership.name ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64)}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.leadership = new Leadership({
      sql,
      holder,
      leaseSeconds: config.leadership.leaseSeconds,
      logger: log.child({ component: 'leadership' }),
      onElected: (term) => this.startActive(active, term),
      onDeposed: () => this.stopActive(),
    });
    const leadership = this.leadership;
    observability.health.add('leadership', () => {
      const view = leadership.view;
      if (view.active) return { ok: true, detail: `active (lease term ${view.term})` };
      return { ok: true, detail: view.holder ? `standby: ${view.holder} is active (term ${view.term})` : 'standby' };
    });
    new Gauge({
      name: 'deltachain_coordinator_active',
      help: '1 while this coordinator holds the lease (it consumes events, dispatches and schedules); 0 as a standby',
      registers: [observability.metrics.registry],
      collect() {
        this.set(leadership.view.active ? 1 : 0);
      },
    });
    await leadership.start();

    const hooks = { policiesChanged: () => this.scheduler?.wake(), tasksQueued: () => this.dispatcher?.wake(), registered: (role: 'host' | 'storage', name: string) => queues.ensureOrLog(role, name) };
    this.server = await startControlServer({ sql, clock, ids, limits, hooks }, apiEndpoints, log);
    registerCatalogueMetrics(observability.metrics, sql, clock);
    observability.setPhase('ready');
    log.info({ listen: config.api.listen, port: this.server.port, socket: this.server.socket, namespace: names.namespace, observability: observability.server?.address, active: leadership.view.active, holder }, 'coordinator started');
  }

  /** The active coordinator's services, for one lease term: events, then dispatch, then the schedule. */
  private async startActive(parts: ActiveParts, term: number): Promise<void> {
    const { log, sql, nc, names, queues, lookup, clock, ids, limits, retryDelay, signer } = parts;
    const config = this.config;
    const dispatcher = new Dispatcher({
      sql, publisher: new NatsTaskPublisher(nc, names, queues), clock, retryDelay, logger: log.child({ component: 'dispatcher' }), intervalMs: config.dispatchIntervalMs, signer, term,
      onLeaseLost: (error) => this.leadership?.lost(error.term, error.message),
    });
    this.dispatcher = dispatcher;
    const handler = new EventHandler({
      sql, clock, ids, limits, retryDelay, lookup, term,
      logger: log.child({ component: 'events' }),
      onQueued: () => this.dispatcher?.wake(),
    });
    this.consumer = new EventConsumer({ nc, names, logger: log.child({ component: 'event-consumer' }), handleBatch: async (events) => {
      const failures = await handler.handleBatch(events);
      if (events.some((e) => e.type === 'result' || e.type === 'refused')) this.dispatcher?.wake();
      return failures;
    } });
    await this.consumer.start();
    await this.catchUp(this.consumer);
    const republished = await dispatcher.republishInFlight();
    if (republished > 0) log.info({ tasks: republished, term }, 'in-flight tasks published again on becoming active');
    dispatcher.start();
    this.scheduler = new Scheduler({ sql, clock, ids, limits, logger: log.child({ component: 'scheduler' }), onRun: () => this.dispatcher?.wake() });
    this.scheduler.start();
  }

  private async stopActive(): Promise<void> {
    const { scheduler, dispatcher, consumer } = this;
    this.scheduler = undefined;
    this.dispatcher = undefined;
    this.consumer = undefined;
    await scheduler?.stop();
    await dispatcher?.stop();
    await consumer?.stop();
  }

  /**
   * The control API's endpoints (docs/security.md, "Control API"): the socket, and TCP only with
   * mutual TLS or an explicit api.tls.insecure — there is no plaintext exception for loopback
   * (any local user could use it). Files are read now: a bad path stops the start.
   */
  private apiEndpoints(): ControlEndpoint[] {
    const { api } = this.config;
    const endpoints: ControlEndpoint[] = [];
    if (api.socket !== '') endpoints.push({ kind: 'socket', path: api.socket, ...(api.socketGroup === undefined ? {} : { group: api.socketGroup }) });
    if (api.listen !== undefined) {
      if (api.tls === undefined) {
        throw new ConfigError(
          `api.listen ${api.listen}: the control API over TCP needs api.tls with cert, key and ca (callers show operator or viewer certificates), or api.tls.insecure: true to serve anyone who reaches it; for this machine alone, use api.socket instead`,
        );
      }
      warnIfInsecure(this.deps.logger, 'api.tls', api.tls, 'server');
      // Callers are taken on trust only where no client certificate is checked (insecure, no CA).
      endpoints.push({ kind: 'tcp', address: api.listen, credentials: serverCredentials(api.tls, 'api.tls'), open: api.tls.insecure && !isMutualTls(api.tls) });
    } else if (api.tls !== undefined) {
      throw new ConfigError('api.tls is set but api.listen is not: give api.listen (host:port) to serve over TCP, or remove api.tls');
    }
    if (endpoints.length === 0) throw new ConfigError("the control API has no endpoint: give api.socket (a path), or api.listen with api.tls");
    return endpoints;
  }

  /** The catalogue's digest seals (keys.digest, digest-seals.ts): sealed on first use, then checked. */
  private async useDigestKey(sql: Catalogue): Promise<void> {
    const path = this.config.keys.digest;
    if (path === undefined) {
      useDigestKey(undefined);
      this.deps.logger.warn({ field: 'keys.digest' }, "no digest key: the catalogue's digests of backups are not sealed, so a digest changed in the database goes unseen");
      return;
    }
    const key = readDigestKey(path);
    const sealed = await sealCatalogue(sql, key);
    useDigestKey(key);
    if (sealed > 0) this.deps.logger.info({ disks: sealed }, "the catalogue's digests sealed with keys.digest (first start with this key)");
  }

  /** The key grants are signed with (keys.signing); without one, tasks go without grants. */
  private grantSigner(): Signer | undefined {
    const path = this.config.keys.signing;
    if (path !== undefined) return readSigner(path);
    this.deps.logger.warn({ field: 'keys.signing' }, 'no signing key: backup and restore tasks carry no grants, and storage agents that check grants refuse them');
    return undefined;
  }

  private async catchUp(consumer: EventConsumer): Promise<void> {
    const deadline = Date.now() + (this.deps.catchUpMs ?? 5000);
    while (Date.now() < deadline && (await consumer.pending()) > 0) await new Promise((r) => setTimeout(r, 50));
  }

  async stop(): Promise<void> {
    this.observability?.setPhase('stopping');
    await this.server?.close();
    await this.leadership?.stop();
    await this.stopActive();
    this.lookup?.close();
    await this.nc?.drain().catch(() => undefined);
    await this.sql?.end({ timeout: 5 });
    await this.observability?.close();
    this.deps.logger.info('coordinator stopped');
  }
}
