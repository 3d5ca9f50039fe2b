// `deltachain vhd info FILE [--json] [--blocks]`: what one VHD file says about itself.
// The implementation is imported when the command runs, so other commands start without it.
import type { Command } from 'commander';
import { asToolError } from './tool-error.js';

export function registerInfoCommand(vhd: Command): void {
  vhd
    .command('info')
    .description('type, sizes, uuid, parent uuid and name, and allocated blocks of a VHD file')
    .argument('<file>', 'a dynamic or differencing VHD')
    .option('--json', 'print one JSON object (sizes in bytes) instead of a table')
    .option('--blocks', 'also list the allocated block indexes, as ranges')
    .action(async (file: string, options: { json?: boolean; blocks?: boolean }) => {
      const [{ VhdFile }, { describeVhd, formatVhdInfo }] = await Promise.all([import('../vhd-file.js'), import('./vhd-info.js')]);
      const info = await asToolError(async () => {
        const opened = await VhdFile.open(file);
        try {
          return describeVhd(opened, { blocks: options.blocks === true });
        } finally {
          await opened.close();
        }
      });
      process.stdout.write(options.json ? `${JSON.stringify(info, null, 2)}\n` : formatVhdInfo(info));
    });
}
