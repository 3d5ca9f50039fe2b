// A merge in a process of its own, for tests that kill it (SIGKILL) at chosen moments.
// Usage: node --import tsx test/support/merge-process.ts CHILD.vhd [CHECKPOINT_BLOCKS]
// Prints "progress DONE TOTAL" after each block, "point NAME" at each named crash point of the merge
// (not before every write), and "done" at the end, each on its own line, so the test can pick the
// moment to kill it.
import { mergeVhd } from '../../shared/vhd/merge.js';

const [child, checkpointBlocks] = process.argv.slice(2);
if (!child) {
  process.stderr.write('usage: merge-process.ts CHILD.vhd [CHECKPOINT_BLOCKS]\n');
  process.exit(2);
}
const result = await mergeVhd(child, {
  checkpointBlocks: checkpointBlocks ? Number(checkpointBlocks) : undefined,
  onProgress: (done, total) => process.stdout.write(`progress ${done} ${total}\n`),
  injectFailure: (point) => void (point !== 'write' && process.stdout.write(`point ${point}\n`)),
});
process.stdout.write(`done ${result.resumed ? 'resumed' : 'fresh'}\n`);
