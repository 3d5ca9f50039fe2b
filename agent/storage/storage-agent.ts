// The storage agent process: opens the remote, finishes interrupted merges and removes what
// crashed uploads left (remove-leftovers.ts) BEFORE taking any new work (docs/remote-format.md §8,
// §9), then serves the gRPC data plane and pulls tasks from its
// remote's JetStream subject, publishing events (started, progress, result, heartbeat).
// /healthz and /metrics (when configured) come up first and say "starting" during merge recovery.
// Stop: pulling ends, running tasks get `shutdownGraceSeconds` to finish, the rest are handed
// back to the queue (their work is crash-safe: a merge resumes, an upload's temporary is dropped).
import { ChainTermCache } from './chain-terms.js';
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logging/index.js';
import { taskTrustOf } from '../../shared/task-trust/index.js';
import { connectNats, natsNames, trustedTasks, notRegisteredAdvice, publishEvent, startTaskConsumer, type EventSender, type TaskConsumer } from '../../shared/nats/index.js';
import { AgentTaskMetrics, natsCheck, startProcessObservability, TaskMetrics, TransferMetrics, writableFolderCheck } from '../../shared/observability/index.js';
import { AgentRole } from '../../shared/proto/gen/deltachain/tasks/v1/event.js';
import { readVerifier } from '../../shared/signing/index.js';
import { channelCredentials } from '../../shared/grpc/credentials.js';
import { BandwidthLimits } from '../../shared/bandwidth.js';
import { ActiveUploads } from './active-uploads.js';
import { RemoteLayout } from './remote-layout.js';
import { RemoteLocks } from './remote-locks.js';
import type { RemoteContext } from './remote-context.js';
import { GET_DISK_READ_AHEAD, restoreBufferPool } from './serve-disk.js';
import type { StorageAgentConfig } from './storage-config.js';
import { startStorageServer, type StorageServer } from './storage-server.js';
import { StorageTaskRunner } from './task-runner.js';
import { recoverMerges } from './tasks/recover-merges.js';
import { removeLeftovers } from './remove-leftovers.js';

export const AGENT_VERSION = '0.1.0';

export interface RunningStorageAgent {
  address: string;
  ctx: RemoteContext;
  /** "host:port" of /healthz and /metrics, when configured. */
  observabilityAddress: string | undefined;
  stop(): Promise<void>;
}

export async function startStorageAgent(config: StorageAgentConfig, logger: Logger): Promise<RunningStorageAgent> {
  const s = config.storage;
  const log = logger.child({ component: 'storage-agent', remoteId: s.remoteId });
  const ctx: RemoteContext = {
    remoteId: s.remoteId,
    layout: new RemoteLayout(s.root),
    locks: new RemoteLocks(),
    uploads: new ActiveUploads(),
    chainTerms: new ChainTermCache(s.chainTermCacheMiB * 1024 * 1024),
    limits: s.limits,
    restoreReadAhead: s.restoreReadAheadBlocks,
    restoreBuffers: restoreBufferPool(s.restoreReadAheadBlocks ?? GET_DISK_READ_AHEAD),
    logger,
    now: () => new Date(),
  };
  const observability = await startProcessObservability({ role: 'storage-agent', version: AGENT_VERSION, config: config.metrics, logger: log });
  const taskMetrics = new AgentTaskMetrics(new TaskMetrics(observability.metrics.registry), new TransferMetrics(observability.metrics.registry));
  observability.health.add('remote', writableFolderCheck(s.root));
  const names = natsNames(config.nats.namespace);
  const sender: EventSender = { role: 'storage', scope: s.remoteId, agent: config.agentId };
  let trust: ReturnType<typeof taskTrustOf>;
  try {
    trust = taskTrustOf(config.trust, 'storage', s.remoteId, log);
  } catch (error) {
    await observability.close();
    throw error;
  }
  let nc: NatsConnection;
  try {
    await ctx.layout.ensure();
    const recovered = await recoverMerges(ctx);
    log.info({ resumed: recovered.resumed.length, failed: recovered.failed.length }, 'interrupted merges handled');
    await removeLeftovers(ctx);
    nc = await connectNats(config.nats, `deltachain-storage-${config.agentId}`, { inboxPrefix: names.agentInbox(sender), logger: log });
  } catch (error) {
    await observability.close();
    throw error;
  }
  observability.health.add('nats', natsCheck(nc));
  let server: StorageServer | undefined;
  let consumer: TaskConsumer | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  try {
    server = await startStorageServer(ctx, s.listen, s.tls, config.trust.coordinatorKey === undefined ? undefined : readVerifier(config.trust.coordinatorKey));
    const events = taskMetrics.events({ publish: async (taskId: string, body: Parameters<typeof publishEvent>[4]) => void (await publishEvent(nc, names, sender, taskId, body)) });
    // A mirror calls the source's storage agent with this agent's own certificate (plaintext when
    // its data plane is insecure) and refuses a server whose certificate is not storage:<source>.
    const sourceCredentials = (remoteId: string) => channelCredentials(s.tls, { role: 'storage', name: remoteId });
    const mirrorLimits = s.mirrorBandwidth.limits.length > 0 ? new BandwidthLimits(s.mirrorBandwidth.limits) : undefined;
    if (mirrorLimits) log.info({ limits: s.mirrorBandwidth.limits }, 'mirror bandwidth limits in force (storage.mirrorBandwidth)');
    const runner = new StorageTaskRunner(ctx, events, { mergeCheckpointBlocks: s.mergeCheckpointBlocks, sourceCredentials, ...(mirrorLimits ? { mirrorLimits } : {}) });
    consumer = startTaskConsumer({
      nc,
      names,
      role: 'storage',
      scope: s.remoteId,
      concurrency: s.concurrency,
      handler: trustedTasks(trust, taskMetrics.handler((delivery) => runner.handle(delivery)), {
        logger: log,
        report: async (r) => void (await events.publish(r.claimedTaskId, { $case: 'refused', value: { reason: r.message, subject: r.subject, code: r.code, attempt: r.claimedAttempt, leaderTerm: r.claimedTerm } })),
      }),
      logger,
    });
    const tasks = consumer;
    observability.health.add('tasks', () => ({ ok: tasks.pulling, detail: tasks.pulling ? `${tasks.running} of ${s.concurrency} running` : notRegisteredAdvice('storage', s.remoteId) }));
    const startedAt = Date.now();
    const address = s.advertise ?? server.address;
    const beat = (): Promise<void> =>
      events.publish('', {
        $case: 'heartbeat',
        value: { role: AgentRole.AGENT_ROLE_STORAGE, targetId: s.remoteId, runningTasks: consumer?.running ?? 0, concurrency: s.concurrency, version: AGENT_VERSION, startedAtMs: startedAt, address },
      }).catch((error: unknown) => log.warn({ err: error }, 'heartbeat not published'));
    await beat();
    heartbeat = setInterval(() => void beat(), s.heartbeatSeconds * 1000);
    observability.setPhase('ready');
    log.info({ address, instance: randomUUID(), observability: observability.server?.address }, 'storage agent ready');
  } catch (error) {
    await server?.close();
    await nc.close();
    await observability.close();
    throw error;
  }
  return {
    address: server.address,
    ctx,
    observabilityAddress: observability.server?.address,
    async stop() {
      observability.setPhase('stopping');
      clearInterval(heartbeat);
      const stopped = await consumer?.stop({ graceMs: config.shutdownGraceSeconds * 1000 });
      await server?.close();
      await nc.drain();
      await observability.close();
      log.info({ handedBack: stopped?.handedBack ?? 0 }, 'storage agent stopped');
    },
  };
}
