// The composition root of the `deltachain` command: each area contributes its subcommands.
// Nothing here decides anything; it only wires commands to the code that does the work.
import { Command, CommanderError } from 'commander';
import { registerAgentCommand } from '../agent/index.js';
import { registerCoordinatorCommands } from '../coordinator/cli/index.js';
import { registerLabCommands } from '../lab/pool/commands.js';
import { DeltachainError } from '../shared/errors.js';
import { registerVhdCommands } from '../shared/vhd/tools/commands.js';

export const VERSION = '0.1.0';

/**
 * Each area registers its subcommands. Registering only declares commands and options: every
 * action imports the code that does the work when it runs (gRPC, NATS, Postgres, pino, zod, the
 * lab server, the agents). That keeps `--help` and a listing quick, and keeps the long-running
 * `deltachain agent` process to the agent's own modules (its resident memory is part of its
 * contract: the host agent stays under 200 MiB while streaming, issue 5).
 * test/cli-start-up.test.ts checks that `--help` loads none of the heavy packages.
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
  registerLabCommands(program);
  registerCoordinatorCommands(program);
  return program;
}

/** Runs the command line; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
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
