// The host agent process: connects to its pool's XAPI (credentials from its config only), then
// pulls the backup and restore tasks addressed to the pool from JetStream — at most `limits.vms`
// at once — and publishes events (started, progress, result, heartbeat). One per pool is enough;
// several may run for one pool (a task goes to one of them).
// /healthz and /metrics (when configured) come up first. Stop: pulling ends, running tasks get
// `shutdownGraceSeconds` to finish, the rest are handed back to the queue; the next delivery
// cleans up what the interrupted run left (its snapshot, the remote's temporaries).
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { channelCredentials, warnIfInsecure } from '../../shared/grpc/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { taskTrustOf } from '../../shared/task-trust/index.js';
import { connectNats, natsNames, trustedTasks, publishEvent, startTaskConsumer, notRegisteredAdvice, type EventSender, type EventSink, type TaskConsumer } from '../../shared/nats/index.js';
import { AgentTaskMetrics, natsCheck, startProcessObservability, TaskMetrics, TransferMetrics } from '../../shared/observability/index.js';
import { AgentRole } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { HostAgentConfig } from './host-agent-config.js';
import { HostTaskRunner } from './tasks/host-task-runner.js';
import { RemoteStorages } from './tasks/remote-storages.js';
import { BandwidthLimits } from '../../shared/bandwidth.js';
import { InventoryReporter } from './inventory/inventory-reporter.js';
import { connectXapi } from './xapi/connect-xapi.js';
import type { HostXapi } from './xapi/host-xapi.js';

export const HOST_AGENT_VERSION = '0.1.0';

export interface RunningHostAgent {
  xapi: HostXapi;
  /** Tasks running now. */
  readonly running: number;
  /** "host:port" of /healthz and /metrics, when configured. */
  readonly observabilityAddress: string | undefined;
  stop(): Promise<void>;
}

export async function startHostAgent(config: HostAgentConfig, logger: Logger): Promise<RunningHostAgent> {
  const log = logger.child({ component: 'host-agent', pool: config.pool.id, agentId: config.agentId });
  const observability = await startProcessObservability({ role: 'host-agent', version: HOST_AGENT_VERSION, config: config.metrics, logger: log });
  const taskMetrics = new AgentTaskMetrics(new TaskMetrics(observability.metrics.registry), new TransferMetrics(observability.metrics.registry));
  const xapi = await connectXapi({
    url: config.pool.url,
    user: config.pool.user,
    password: config.pool.password,
    allowUnauthorized: config.pool.allowUnauthorized,
    callLimit: config.limits.xapiCalls,
    callTimeoutMs: config.xapi.callTimeoutMs,
    retry: config.xapi.retry,
    logger,
  }).catch(async (error: unknown) => {
    await observability.close();
    throw error;
  });
  observability.health.add('xapi', () => ({ ok: xapi.client.status === 'connected', detail: `${config.pool.url}: ${xapi.client.status}` }));
  warnIfInsecure(log, 'storage.tls', config.storage.tls, 'client');
  channelCredentials(config.storage.tls); // reads the files now: a bad path stops the start, not the first task
  const trust = taskTrustOf(config.trust, 'host', config.pool.id, log);
  if (config.bandwidth.limits.length > 0) log.info({ limits: config.bandwidth.limits }, 'upload bandwidth limits in force (bandwidth.limits)');
  const storages = new RemoteStorages((remoteId) => channelCredentials(config.storage.tls, { role: 'storage', name: remoteId }), {
    uploadWindow: config.storage.uploadWindow,
    callTimeoutMs: config.storage.callTimeoutMs,
    retry: config.xapi.retry,
    logger: log,
    uploadLimits: config.bandwidth.limits.length > 0 ? new BandwidthLimits(config.bandwidth.limits) : undefined,
  });
  const names = natsNames(config.nats.namespace);
  const sender: EventSender = { role: 'host', scope: config.pool.id, agent: config.agentId };
  let nc: NatsConnection | undefined;
  let consumer: TaskConsumer | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let inventory: InventoryReporter | undefined;
  try {
    nc = await connectNats(config.nats, `deltachain-host-${config.agentId}`, { inboxPrefix: names.agentInbox(sender), logger: log });
    observability.health.add('nats', natsCheck(nc));
    const connection = nc;
    const events: EventSink = taskMetrics.events({ publish: async (taskId, body) => void (await publishEvent(connection, names, sender, taskId, body)) });
    const runner = new HostTaskRunner({ poolId: config.pool.id, xapi, storages, disksPerVm: config.limits.disksPerVm, transferRetry: config.transfer, events, logger, progressIntervalMs: config.progressIntervalMs, changedBlocks: config.backup.changedBlocks, nbd: config.nbd });
    consumer = startTaskConsumer({
      nc,
      names,
      role: 'host',
      scope: config.pool.id,
      concurrency: config.limits.vms,
      handler: trustedTasks(trust, taskMetrics.handler((delivery) => runner.handle(delivery)), {
        logger: log,
        report: async (r) => void (await events.publish(r.claimedTaskId, { $case: 'refused', value: { reason: r.message, subject: r.subject, code: r.code, attempt: r.claimedAttempt, leaderTerm: r.claimedTerm } })),
      }),
      logger,
    });
    const tasks = consumer;
    observability.health.add('tasks', () => ({ ok: tasks.pulling, detail: tasks.pulling ? `${tasks.running} of ${config.limits.vms} running` : notRegisteredAdvice('host', config.pool.id) }));
    const startedAt = Date.now();
    const beat = (): Promise<void> =>
      events
        .publish('', {
          $case: 'heartbeat',
          value: { role: AgentRole.AGENT_ROLE_HOST, targetId: config.pool.id, runningTasks: consumer?.running ?? 0, concurrency: config.limits.vms, version: HOST_AGENT_VERSION, startedAtMs: startedAt, address: '' },
        })
        .catch((error: unknown) => log.warn({ err: error }, 'heartbeat not published'));
    await beat();
    heartbeat = setInterval(() => void beat(), config.heartbeatSeconds * 1000);
    inventory = new InventoryReporter({ poolName: config.pool.id, xapi, events, intervalSeconds: config.inventoryIntervalSeconds, logger: log });
    await inventory.start();
    observability.setPhase('ready');
    log.info({ instance: randomUUID(), vms: config.limits.vms, disksPerVm: config.limits.disksPerVm, observability: observability.server?.address }, 'host agent ready');
  } catch (error) {
    clearInterval(heartbeat);
    await inventory?.stop();
    await consumer?.stop();
    await nc?.close();
    storages.closeAll();
    await xapi.client.disconnect().catch(() => undefined);
    await observability.close();
    throw error;
  }
  const connection = nc;
  return {
    xapi,
    get running() {
      return consumer?.running ?? 0;
    },
    observabilityAddress: observability.server?.address,
    async stop() {
      observability.setPhase('stopping');
      clearInterval(heartbeat);
      await inventory?.stop();
      const stopped = await consumer?.stop({ graceMs: config.shutdownGraceSeconds * 1000 });
      await connection.drain();
      storages.closeAll();
      await xapi.client.disconnect().catch(() => undefined);
      await observability.close();
      log.info({ handedBack: stopped?.handedBack ?? 0 }, 'host agent stopped');
    },
  };
}
