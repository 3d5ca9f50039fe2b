// Runs one agent process: reads the config's `role`, starts the storage agent of a remote or a
// pool's host agent, and stops it cleanly on SIGTERM or SIGINT.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../shared/errors.js';
import { loadConfigFile } from '../shared/config/index.js';
import { createLogger, type Logger } from '../shared/logging/index.js';
import { exitAfterStop, waitForShutdownSignal } from '../shared/observability/index.js';
import { AGENT_MALLOC_TUNABLES, missingAgentNodeFlags, missingMallocTunables, runsOnGlibc } from './node-flags.js';

/** Runs until SIGTERM or SIGINT, then stops cleanly (a second signal exits at once). */
export async function runAgent(configPath: string, env: Record<string, string | undefined>): Promise<void> {
  const role = await readRole(configPath);
  if (role !== 'storage' && role !== 'host') throw new ConfigError(`${configPath}: role must be "storage" or "host", got ${JSON.stringify(role)}`);
  let agent: { stop(): Promise<void> };
  const missing = missingAgentNodeFlags(process.execArgv);
  const tunables = runsOnGlibc() ? missingMallocTunables(process.env['GLIBC_TUNABLES']) : [];
  const warnIfMissing = (logger: Logger): void => {
    if (tunables.length > 0) {
      logger.warn(
        { missing: tunables },
        `GLIBC_TUNABLES lacks ${tunables.join(':')}: streaming disks, this agent spends about a third more CPU faulting in fresh memory for each block. Start it with GLIBC_TUNABLES=${AGENT_MALLOC_TUNABLES.join(':')} in its environment (the systemd unit and the container image set it)`,
      );
    }
    if (missing.length === 0) return;
    logger.warn(
      { missing },
      `node was started without ${missing.join(' ')}: streaming disks, this agent can spend half its CPU in V8 garbage collection, or pass 200 MiB of memory. Start it as \`node ${missing.join(' ')} …/bin/deltachain.mjs agent --config …\` (the systemd unit and the container image do)`,
    );
  };
  // Each role's modules are loaded only by the process that runs it (resident memory matters in a
  // long-running agent; the host agent's bound is 200 MiB while streaming).
  if (role === 'host') {
    const { startHostAgent, hostAgentConfigSchema } = await import('./host/index.js');
    const config = await loadConfigFile(hostAgentConfigSchema, configPath, env);
    const logger = createLogger({ level: config.log.level, pretty: config.log.pretty });
    warnIfMissing(logger);
    agent = await startHostAgent(config, logger);
  } else {
    const { startStorageAgent, storageAgentConfigSchema } = await import('./storage/index.js');
    const config = await loadConfigFile(storageAgentConfigSchema, configPath, env);
    const logger = createLogger({ level: config.log.level, pretty: config.log.pretty });
    warnIfMissing(logger);
    agent = await startStorageAgent(config, logger);
  }
  await waitForShutdownSignal();
  await agent.stop();
  // A task handed back mid-transfer may still hold a socket or a file: do not wait for it.
  exitAfterStop();
}

async function readRole(path: string): Promise<unknown> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as { role?: unknown }).role;
  } catch (cause) {
    throw new ConfigError(`cannot read agent config ${path}: ${(cause as Error).message}`, { cause });
  }
}
