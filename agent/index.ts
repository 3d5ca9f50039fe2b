// `deltachain agent --config FILE`: one binary, two roles chosen by the config's `role`. The
// storage role serves a remote; the host role runs next to a pool (agent/host). Registering the
// command loads nothing else: config, logging, metrics and the roles' modules are imported when
// the command runs, so every other command (and `--help`) starts without them.
import type { Command } from 'commander';

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run an agent: the storage agent of a remote (role "storage") or a pool\'s host agent (role "host")')
    .requiredOption('-c, --config <file>', 'the agent\'s JSON config file')
    .action(async (options: { config: string }) => {
      const { runAgent } = await import('./run-agent.js');
      await runAgent(options.config, process.env);
    });
}
