// The composition root of the `deltachain` command: each area contributes its subcommands.
// Nothing here decides anything; it only wires commands to the code that does the work.
import { Command } from 'commander';
import { registerAgentCommand } from '../agent/index.js';
import { registerCoordinatorCommands } from '../coordinator/cli/index.js';
import { registerVhdCommands } from '../shared/vhd/tools/commands.js';
import { runProgram, VERSION } from './run-program.js';

/**
 * Each area registers its subcommands. Registering only declares commands and options: every
 * action imports the code that does the work when it runs (gRPC, NATS, Postgres, pino, zod, the
 * agents). That keeps `--help` and a listing quick, and keeps the long-running `deltachain agent`
 * process to the agent's own modules (its resident memory is part of its contract: the host
 * agent stays under 200 MiB while streaming). The lab pool is not part of the product: its
 * commands are `deltachain-lab` (lab/main.ts). test/cli-start-up.test.ts checks that `--help`
 * loads none of the heavy packages and no lab code.
 */
export function buildProgram(): Command {
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
  registerVhdCommands(program);
  registerAgentCommand(program);
  registerCoordinatorCommands(program);
  return program;
}

/** Runs the command line; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return runProgram(buildProgram(), argv);
}
