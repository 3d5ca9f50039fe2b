// `deltachain vhd from-raw RAW OUT.vhd [--parent PARENT.vhd]`: a raw image as a dynamic VHD, or as
// a differencing VHD of only the blocks that differ from what the parent chain reads.
// The implementation is imported when the command runs, so other commands start without it.
import { InvalidArgumentError, type Command } from 'commander';
import { isPowerOfTwo, isUuid, LIMITS } from '../format/index.js';
import { asToolError } from './tool-error.js';
import { humanSize } from '../../human-units.js';

interface FromRawOptions {
  parent?: string;
  blockSize?: number;
  uuid?: string;
  force?: boolean;
}

export function registerFromRawCommand(vhd: Command): void {
  vhd
    .command('from-raw')
    .description('write a raw disk image as a dynamic VHD (all-zero blocks left out), or as a differencing VHD with --parent')
    .argument('<raw>', 'raw disk image; its size is the virtual size (whole 512-byte sectors)')
    .argument('<out>', 'VHD file to create')
    .option('--parent <vhd>', 'make a differencing VHD holding only the blocks that differ from this chain')
    .option('--block-size <bytes>', 'block size of a new dynamic VHD (default 2097152)', parseBlockSize)
    .option('--uuid <uuid>', 'footer uuid of the new disk (default: random)', parseUuid)
    .option('--force', 'replace <out> if it exists')
    .action(async (raw: string, out: string, options: FromRawOptions) => {
      const { rawToVhd } = await import('./raw-to-vhd.js');
      const result = await asToolError(() =>
        rawToVhd({
          rawPath: raw,
          outPath: out,
          parentPath: options.parent,
          blockSize: options.blockSize,
          uuid: options.uuid,
          overwrite: options.force === true,
        }),
      );
      const kind = options.parent === undefined ? 'dynamic' : 'differencing';
      process.stdout.write(
        `${out}: ${kind} VHD, ${result.blocks} of ${result.blockCount} blocks stored, ${humanSize(result.size)}, uuid ${result.uuid}\n`,
      );
    });
}

function parseBlockSize(value: string): number {
  const n = Number(value);
  if (!isPowerOfTwo(n) || n < LIMITS.minBlockSize || n > LIMITS.maxBlockSize) {
    throw new InvalidArgumentError(`a power of two between ${LIMITS.minBlockSize} and ${LIMITS.maxBlockSize} is required`);
  }
  return n;
}

function parseUuid(value: string): string {
  if (!isUuid(value.toLowerCase())) throw new InvalidArgumentError('not a UUID');
  return value.toLowerCase();
}
