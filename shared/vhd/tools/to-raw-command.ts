// `deltachain vhd to-raw FILE OUT.raw`: the chain's content as a raw image of exactly its virtual size.
// The implementation is imported when the command runs, so other commands start without it.
import type { Command } from 'commander';
import { humanSize } from '../../human-units.js';
import { asToolError } from './tool-error.js';

export function registerToRawCommand(vhd: Command): void {
  vhd
    .command('to-raw')
    .description("write what a VHD chain reads as a raw image of exactly the disk's virtual size")
    .argument('<file>', 'a dynamic or differencing VHD (its parents are found through its header)')
    .argument('<out>', 'raw image to create (sparse where nothing is allocated)')
    .option('--force', 'replace <out> if it exists')
    .action(async (file: string, out: string, options: { force?: boolean }) => {
      const { vhdToRaw } = await import('./vhd-to-raw.js');
      const result = await asToolError(() => vhdToRaw({ vhdPath: file, outPath: out, overwrite: options.force === true }));
      const disks = result.chainLength === 1 ? '1 disk' : `${result.chainLength} disks`;
      process.stdout.write(`${out}: ${humanSize(result.size)} (${result.size} bytes) from ${disks}, ${result.allocatedBlocks} blocks with data\n`);
    });
}
