// The host agent as a real process (`deltachain agent --config FILE`, role host, log level warn)
// pointed at the lab pool and a NATS namespace; ready once its first heartbeat arrives.
import { profileArgs } from '../../support/profile-args.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostAgentConfigSchema } from '../../../agent/host/index.js';
import { testNatsSection, type TestNats } from '../../support/storage-nats.js';
import { testTaskKeys } from '../../support/task-keys.js';
import { AGENT_NODE_FLAGS, agentEnvironment } from '../../../agent/node-flags.js';

const BIN = fileURLToPath(new URL('../../../bin/deltachain.mjs', import.meta.url));

export interface HostAgentProcess {
  child: ChildProcess;
  pid: number;
  /** The agent's warnings and errors so far (stderr and stdout), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface HostAgentProcessOptions {
  configFolder: string;
  lab: { url: string; user: string; password: string };
  poolId: string;
  agentId: string;
  nats: TestNats;
  changedBlocks?: 'cbt' | 'vhd-export';
}

export async function startHostAgentProcess(o: HostAgentProcessOptions, timeoutMs = 60_000): Promise<HostAgentProcess> {
  const config = hostAgentConfigSchema.parse({
    role: 'host',
    agentId: o.agentId,
    log: { level: 'warn', pretty: false },
    nats: testNatsSection(o.nats.namespace),
    pool: { id: o.poolId, url: o.lab.url, user: o.lab.user, password: o.lab.password },
    limits: { vms: 2, disksPerVm: 2, xapiCalls: 8 },
    storage: { tls: { insecure: true }, callTimeoutMs: 60_000 },
    trust: { coordinatorKey: testTaskKeys().publicPath },
    backup: { changedBlocks: o.changedBlocks ?? 'vhd-export' },
    heartbeatSeconds: 60,
  });
  const path = join(o.configFolder, 'host-agent.json');
  await writeFile(path, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, ...profileArgs(), BIN, 'agent', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'], env: agentEnvironment() });
  let output = '';
  const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const died = exited.then(() => Promise.reject(new Error(`host agent exited before its first heartbeat: ${output}`)));
  await Promise.race([o.nats.waitForEvent((e) => e.agentId === o.agentId && e.body?.$case === 'heartbeat', timeoutMs, 'the host agent heartbeat'), died]);
  return {
    child,
    pid: child.pid!,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
