// Runs a real storage agent (`deltachain agent --config FILE`) as a child process, as an
// operator would, so tests can SIGKILL it mid-work and start it again on the same remote.
// With `dataPlane` it runs as in production (mutual TLS, every call checked by role and grant);
// without, its data plane is open (`insecure: true`): the crash and recovery tests that use it
// are about what the remote holds, and call it with plain clients.
import { profileArgs } from './profile-args.js';
import { testNatsSection } from './storage-nats.js';
import { testTaskKeys } from './task-keys.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS, agentEnvironment } from '../../agent/node-flags.js';

const BIN = fileURLToPath(new URL('../../bin/deltachain.mjs', import.meta.url));

export interface AgentProcessOptions {
  folder: string;
  root: string;
  remoteId: string;
  namespace: string;
  agentId?: string;
  mergeCheckpointBlocks?: number;
  /** Unused by the agent (its queue's ack wait is the harness's: TestNats.queue); kept for callers. */
  ackWaitSeconds?: number;
  /** gRPC port (default 0: a free one); a restarted agent takes its predecessor's to be found again. */
  port?: number;
  /** The agent's certificate (storage:<remote>, a server certificate), its CA and the coordinator's public key. */
  dataPlane?: { tls: { ca: string; cert: string; key: string }; coordinatorKey: string };
}

export interface AgentProcess {
  child: ChildProcess;
  address: string;
  logs: Record<string, unknown>[];
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function writeAgentConfig(o: AgentProcessOptions): Promise<string> {
  const path = join(o.folder, `agent-${o.remoteId}.json`);
  const config = {
    role: 'storage',
    agentId: o.agentId ?? `storage-${o.remoteId}`,
    log: { level: 'info', pretty: false },
    nats: testNatsSection(o.namespace),
    storage: {
      remoteId: o.remoteId,
      root: o.root,
      listen: { host: '127.0.0.1', port: o.port ?? 0 },
      tls: o.dataPlane?.tls ?? { insecure: true },
      concurrency: 2,
      heartbeatSeconds: 60,
      mergeCheckpointBlocks: o.mergeCheckpointBlocks ?? 256,
    },
    trust: { coordinatorKey: o.dataPlane?.coordinatorKey ?? testTaskKeys().publicPath },
  };
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** Starts the agent and resolves once it logs "storage agent ready" (after merge recovery). */
export async function startAgentProcess(o: AgentProcessOptions, timeoutMs = 30_000): Promise<AgentProcess> {
  const config = await writeAgentConfig(o);
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, ...profileArgs(), BIN, 'agent', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: agentEnvironment() });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent not ready within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'storage agent ready') (clearTimeout(timer), resolve(String(entry.address)));
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => (clearTimeout(timer), reject(new Error(`agent exited (${code}) before ready: ${stderr}`))));
  });
  return {
    child,
    address,
    logs,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
