// `deltachain vhd check FILE [--json] [--no-sums]`: exit 0 when the file and its whole chain are
// sound; otherwise exit 1 and one line `FILE: reason` on stderr naming the first faulty file.
// A chain file with a `.sums` table beside it has every block compared with its stored checksum
// (the bad blocks are named); `--no-sums` checks the structure only.
// The implementation is imported when the command runs, so other commands start without it.
import type { Command } from 'commander';
import type { ChainCheckReport } from './check-vhd-chain.js';
import { asToolError } from './tool-error.js';

export const CHECK_FAILED_EXIT_CODE = 1;

export function registerCheckCommand(vhd: Command): void {
  vhd
    .command('check')
    .description('validate a VHD file and its whole chain, and its blocks against FILE.sums when present; exit 0 when sound, else 1 with "FILE: reason"')
    .argument('<file>', 'a dynamic or differencing VHD (its parents are found through its header)')
    .option('--json', 'print the report as JSON on stdout')
    .option('--no-sums', 'skip the data check of each file against its .sums checksums')
    .action(async (file: string, options: { json?: boolean; sums: boolean }) => {
      const { checkVhdChain } = await import('./check-vhd-chain.js');
      const report = await asToolError(() => checkVhdChain(file, { sums: options.sums }));
      if (options.json) process.stdout.write(`${JSON.stringify(jsonReport(report), null, 2)}\n`);
      else printReport(file, report);
      if (!report.ok) process.exitCode = CHECK_FAILED_EXIT_CODE;
    });
}

function printReport(file: string, report: ChainCheckReport): void {
  for (const note of report.notes) process.stderr.write(`note: ${note}\n`);
  if (report.problem) {
    process.stderr.write(`${report.problem.file}: ${report.problem.reason}\n`);
    return;
  }
  const blocks = report.disks.reduce((sum, d) => sum + d.allocatedBlocks, 0);
  const disks = report.disks.length;
  const summed = report.disks.filter((d) => d.sumsPath !== undefined).length;
  const data = summed === 0 ? 'no checksums to compare' : `${summed} of ${disks} checked against their .sums`;
  process.stdout.write(`${file}: ok (${disks} ${disks === 1 ? 'disk' : 'disks'} in the chain, ${blocks} blocks read, ${data})\n`);
}

function jsonReport(report: ChainCheckReport): object {
  return {
    ok: report.ok,
    problem: report.problem ?? null,
    notes: report.notes,
    chain: report.disks.map((d) => ({
      path: d.path,
      uuid: d.footer.uuid,
      type: d.footer.diskType === 4 ? 'differencing' : 'dynamic',
      virtualSize: d.footer.currentSize,
      fileSize: d.fileSize,
      allocatedBlocks: d.allocatedBlocks,
      sums: d.sumsPath ?? null,
    })),
  };
}
