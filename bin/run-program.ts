// Runs a commander program the way every Deltachain command does: exit codes from commander
// (usage errors), a one-line message for our own errors, the stack for anything unexpected.
import { CommanderError, type Command } from 'commander';
import { DeltachainError } from '../shared/errors.js';

/** The version every Deltachain command prints for --version. */
export const VERSION = '0.1.0';

/** Parses `argv` with `program` and runs the chosen action; returns the process exit code. */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  const name = program.name();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode;
    }
    if (error instanceof DeltachainError) {
      process.stderr.write(`${name}: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`${name}: unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`);
    return 70;
  }
}
