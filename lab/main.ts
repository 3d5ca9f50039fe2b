// The `deltachain-lab` command (bin/lab.mjs): the lab pool, an XAPI stand-in for tests, demos
// and benchmarks, and the commands that drive a running one. Kept out of `deltachain`, so that
// the product imports nothing from lab/.
import { Command } from 'commander';
import { runProgram, VERSION } from '../bin/run-program.js';
import { registerLabCommands } from './pool/commands.js';

export function buildLabProgram(): Command {
  const program = new Command('deltachain-lab')
    .description('the lab pool: an XAPI-compatible server (real xen-api client, snapshots, VHD exports) for tests and demos, and the commands that drive a running one')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerLabCommands(program);
  return program;
}

/** Runs the command line; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return runProgram(buildLabProgram(), argv);
}
