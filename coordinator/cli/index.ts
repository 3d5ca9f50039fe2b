// The coordinator's commands of the `deltachain` CLI: the coordinator itself, and the operator
// commands that talk to it through the control API.
import type { Command } from 'commander';
import { processIo, type CliIo } from './cli-io.js';
import { registerCoordinatorCommand } from './commands/coordinator-command.js';
import { registerInventoryCommands } from './commands/inventory-commands.js';
import { registerPolicyCommands } from './commands/policy-commands.js';
import { registerRestoreCommands } from './commands/restore-commands.js';
import { registerRunCommands } from './commands/run-commands.js';

export { EXIT } from './exit-codes.js';
export type { CliIo } from './cli-io.js';

export function registerCoordinatorCommands(program: Command, io: CliIo = processIo()): void {
  registerCoordinatorCommand(program, io);
  registerPolicyCommands(program, io);
  registerInventoryCommands(program, io);
  registerRunCommands(program, io);
  registerRestoreCommands(program, io);
}
