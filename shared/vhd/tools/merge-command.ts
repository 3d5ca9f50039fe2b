// `deltachain vhd merge CHILD.vhd`: merges a differencing VHD into its parent, which then takes the
// child's name (the chain gets one disk shorter; a grandchild's parent link stays valid). Running it
// again after an interruption finishes the job; `--interrupted FOLDER` finishes every merge a crash
// left in a folder. Progress goes to stderr when it is a terminal; the result to stdout.
// The implementation is imported when the command runs, so other commands start without it.
import type { Command } from 'commander';
import type { MergeResult } from '../merge.js';
import { asToolError } from './tool-error.js';

interface MergeCommandOptions {
  json?: boolean;
  interrupted?: boolean;
}

export function registerMergeCommand(vhd: Command): void {
  vhd
    .command('merge')
    .description('merge a differencing VHD into its parent (crash-safe; run again to finish an interrupted merge)')
    .argument('<path>', 'the child VHD; with --interrupted, a folder')
    .option('--interrupted', 'finish every interrupted merge found in the folder <path>')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (path: string, options: MergeCommandOptions) => {
      const { findInterruptedMerges, mergeVhd } = await import('../merge.js');
      const children = options.interrupted ? await asToolError(() => findInterruptedMerges(path)) : [path];
      const results: MergeResult[] = [];
      for (const child of children) {
        results.push(await asToolError(() => mergeVhd(child, { onProgress: progressPrinter(child) })));
      }
      if (options.json) process.stdout.write(`${JSON.stringify(options.interrupted ? results : results[0], null, 2)}\n`);
      else if (results.length === 0) process.stdout.write(`${path}: no interrupted merge\n`);
      else for (const r of results) process.stdout.write(`${describe(r)}\n`);
    });
}

function describe(r: MergeResult): string {
  const how = r.resumed ? 'finished an interrupted merge' : 'merged';
  return `${r.path}: ${how} into its parent ${r.parentPath} (${r.blocksMerged} blocks, ${r.blocksCopied} copied now); the parent now has this name`;
}

/** A one-line progress meter on stderr, only for a terminal (logs and pipes stay clean). */
function progressPrinter(child: string): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (now - last < 200 && done < total) return;
    last = now;
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    process.stderr.write(`\r${child}: ${done}/${total} blocks (${percent}%)${done === total ? '\n' : ''}`);
  };
}
