// `deltachain vhd …`: operator tools over VHD files. Each subcommand is a thin shell over the
// VHD module; output is for humans unless --json.
import type { Command } from 'commander';

export function registerVhdCommands(program: Command): void {
  program
    .command('vhd')
    .description('inspect, check, convert and merge VHD files (the format of every backup on a remote)');
}
