// Task envelopes for host agent tests (backup and restore addressed to a pool) and a host agent
// config that points at a lab pool, a storage agent's address and a test NATS namespace. The
// config talks plaintext to the storage harness's open agent (storage-harness.ts), and the tasks
// carry no grants; the host agent's grants are exercised by the e2e stacks and
// test/observability-processes.test.ts, where storage agents check them.
import { randomUUID } from 'node:crypto';
import { hostAgentConfigSchema, type HostAgentConfig } from '../../agent/host/index.js';
import type { BackupTask, RestoreTask } from '../../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { TaskKind, type Task } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import type { LabPool } from '../../lab/pool/index.js';
import { testNatsSection } from './storage-nats.js';
import { testTaskKeys } from './task-keys.js';

/** A backup task; `moreTargets` and `policyRemoteIds` default to none. */
export function backupTask(poolId: string, backup: BackupTaskInput, taskId = randomUUID()): Task {
  const value: BackupTask = { moreTargets: [], policyRemoteIds: [], ...backup };
  return { taskId, kind: TaskKind.TASK_KIND_BACKUP, target: { agent: { $case: 'poolId', value: poolId } }, attempt: 1, createdAtMs: Date.now(), deadlineMs: 0, expiresAtMs: 0, signedAtMs: 0, runId: '', leaderTerm: 0, payload: { $case: 'backup', value } };
}

export type BackupTaskInput = Omit<BackupTask, 'moreTargets' | 'policyRemoteIds'> & Partial<Pick<BackupTask, 'moreTargets' | 'policyRemoteIds'>>;

export function restoreTask(poolId: string, restore: RestoreTask, taskId = randomUUID()): Task {
  return { taskId, kind: TaskKind.TASK_KIND_RESTORE, target: { agent: { $case: 'poolId', value: poolId } }, attempt: 1, createdAtMs: Date.now(), deadlineMs: 0, expiresAtMs: 0, signedAtMs: 0, runId: '', leaderTerm: 0, payload: { $case: 'restore', value: restore } };
}

/** A host agent's config for tests (its queue's ack wait is the harness's: TestNats.queue). */
/** `coordinatorKey`: the public key tasks are signed with (default: the tests' own, testTaskKeys). */
export function hostAgentConfig(options: { lab: LabPool; poolId: string; namespace: string; agentId?: string; ackWaitSeconds?: number; coordinatorKey?: string }): HostAgentConfig {
  return hostAgentConfigSchema.parse({
    role: 'host',
    agentId: options.agentId ?? 'host-test',
    log: { level: (process.env.DELTACHAIN_TEST_LOG as 'debug' | undefined) ?? 'silent', pretty: false },
    nats: testNatsSection(options.namespace),
    pool: { id: options.poolId, url: options.lab.url, user: options.lab.user, password: options.lab.password },
    limits: { vms: 2, disksPerVm: 2, xapiCalls: 8 },
    xapi: { callTimeoutMs: 30_000, retry: { tries: 3, baseDelayMs: 20, maxDelayMs: 100 } },
    storage: { tls: { insecure: true }, callTimeoutMs: 30_000 },
    trust: { coordinatorKey: options.coordinatorKey ?? testTaskKeys().publicPath },
    heartbeatSeconds: 60,
    progressIntervalMs: 0,
  });
}
