// The composition root of the `deltachain` command: each area contributes its subcommands.
// Nothing here decides anything; it only wires commands to the code that does the work.
import { Command, CommanderError } from 'commander';
import { DeltachainError } from '../shared/errors.js';

export const VERSION = '0.1.0';

/**
 * Each area registers its subcommands; areas are imported when the program is built. For
 * `deltachain agent` — a long-running process whose resident memory is part of its contract
 * (the host agent must stay under 200 MiB while streaming, issue 5) — only the agent's area is
 * loaded: the lab server and the coordinator's modules cost tens of MiB that process never uses.
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('deltachain')
    .description(
      'Continuous delta backups of Xen / XCP-ng VM disks.\n\n' +
        'The first backup of a disk is a full export; every later one sends only the blocks that ' +
        'changed since a reference snapshot kept on the host. Backups land on remotes as VHD chains ' +
        '(full -> delta -> delta); old deltas are merged into the full when retention is exceeded.',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const { registerAgentCommand } = await import('../agent/index.js');
  // Only a running agent (`agent --config FILE`) is the lean process; `agent list` is the
  // coordinator CLI's and needs the whole program (fix by H1: it failed with "required option
  // '-c, --config <file>' not specified").
  if (argv[2] === 'agent' && argv.slice(3).some((a) => a === '-c' || a.startsWith('--config'))) {
    registerAgentCommand(program);
    return program;
  }
  const [{ registerVhdCommands }, { registerLabCommands }, { registerCoordinatorCommands }] = await Promise.all([
    import('../shared/vhd/tools/commands.js'),
    import('../deploy/lab/commands.js'),
    import('../coordinator/cli/index.js'),
  ]);
  registerVhdCommands(program);
  registerAgentCommand(program);
  registerLabCommands(program);
  registerCoordinatorCommands(program);
  return program;
}

/** Runs the command line; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode;
    }
    if (error instanceof DeltachainError) {
      process.stderr.write(`deltachain: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`deltachain: unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`);
    return 70;
  }
}
