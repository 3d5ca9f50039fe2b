// `deltachain vhd …`: operator tools over VHD files. Each subcommand is a thin shell over the
// VHD module (one file per command); output is for humans unless --json.
import type { Command } from 'commander';
import { registerCheckCommand } from './check-command.js';
import { registerFromRawCommand } from './from-raw-command.js';
import { registerInfoCommand } from './info-command.js';
import { registerMergeCommand } from './merge-command.js';
import { registerToRawCommand } from './to-raw-command.js';

export function registerVhdCommands(program: Command): void {
  const vhd = program
    .command('vhd')
    .description('inspect, check, convert and merge VHD files (the format of every backup on a remote)');
  registerInfoCommand(vhd);
  registerCheckCommand(vhd);
  registerFromRawCommand(vhd);
  registerToRawCommand(vhd);
  registerMergeCommand(vhd);
}
