// The coordinator's commands of the `deltachain` CLI: the coordinator itself, and the operator
// commands that talk to it through the control API.
import { CommanderError, type Command } from 'commander';
import { processIo, type CliIo } from './cli-io.js';
import { registerAuditCommands } from './commands/audit-commands.js';
import { registerCoordinatorCommand } from './commands/coordinator-command.js';
import { registerInventoryCommands } from './commands/inventory-commands.js';
import { registerKeysCommand } from './commands/keys-command.js';
import { registerMirrorCommands } from './commands/mirror-commands.js';
import { registerNatsConfigCommand } from './commands/nats-config-command.js';
import { registerPolicyCommands } from './commands/policy-commands.js';
import { registerRestoreCommands } from './commands/restore-commands.js';
import { registerRunCommands } from './commands/run-commands.js';

import { EXIT } from './exit-codes.js';

export { EXIT };
export type { CliIo } from './cli-io.js';

export function registerCoordinatorCommands(program: Command, io: CliIo = processIo()): void {
  const before = new Set(program.commands);
  registerCoordinatorCommand(program, io);
  registerPolicyCommands(program, io);
  registerInventoryCommands(program, io);
  registerRunCommands(program, io);
  registerMirrorCommands(program, io);
  registerRestoreCommands(program, io);
  registerNatsConfigCommand(program, io);
  registerKeysCommand(program, io);
  registerAuditCommands(program, io);
  for (const command of program.commands) {
    if (before.has(command)) command.commands.filter((c) => c.name() === 'list').forEach(usageExitCode);
    else usageExitCode(command);
  }
}

/** Usage errors (bad or missing option, unknown command) exit with 2, as documented in EXIT. */
function usageExitCode(command: Command): void {
  command.exitOverride((error) => {
    if (error.exitCode !== 0 && error.code !== 'commander.executeSubCommandAsync') throw new CommanderError(EXIT.USAGE, error.code, error.message);
    throw error;
  });
  command.commands.forEach(usageExitCode);
}
