// `deltachain agent --config FILE`: one binary, two roles chosen by the config's `role`. The
// storage role serves a remote; the host role runs next to a pool (agent/host).
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConfigError } from '../shared/errors.js';
import { loadConfigFile } from '../shared/config/index.js';
import { createLogger } from '../shared/logging/index.js';
import { exitAfterStop, waitForShutdownSignal } from '../shared/observability/index.js';

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run an agent: the storage agent of a remote (role "storage") or a pool\'s host agent (role "host")')
    .requiredOption('-c, --config <file>', 'the agent\'s JSON config file')
    .action(async (options: { config: string }) => {
      await runAgent(options.config, process.env);
    });
}

/** Runs until SIGTERM or SIGINT, then stops cleanly (a second signal exits at once). */
export async function runAgent(configPath: string, env: Record<string, string | undefined>): Promise<void> {
  const role = await readRole(configPath);
  if (role !== 'storage' && role !== 'host') throw new ConfigError(`${configPath}: role must be "storage" or "host", got ${JSON.stringify(role)}`);
  let agent: { stop(): Promise<void> };
  // Each role's modules are loaded only by the process that runs it (resident memory matters in a
  // long-running agent; the host agent's bound is 200 MiB while streaming).
  if (role === 'host') {
    const { startHostAgent, hostAgentConfigSchema } = await import('./host/index.js');
    const config = await loadConfigFile(hostAgentConfigSchema, configPath, env);
    agent = await startHostAgent(config, createLogger({ level: config.log.level, pretty: config.log.pretty }));
  } else {
    const { startStorageAgent, storageAgentConfigSchema } = await import('./storage/index.js');
    const config = await loadConfigFile(storageAgentConfigSchema, configPath, env);
    agent = await startStorageAgent(config, createLogger({ level: config.log.level, pretty: config.log.pretty }));
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
