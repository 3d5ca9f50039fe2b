// The V8 flags an agent process runs with: the systemd unit and the image's entrypoint pass them
// to node, the benchmarks and tests too, and `deltachain agent` warns when they are missing.
//
// --initial-old-space-size=64 sets a floor under the old generation's allocation limit. An agent's
// JS heap is small (about 20 MiB live) while the data it streams passes through it as buffers, so
// without a floor V8 computes a limit a few dozen MiB above the live heap and reaches it again
// within a tenth of a second: measured on a scattered CBT delta (4 GiB disk, 1 % in 4 KiB pages),
// the host agent ran 748 mark-compacts, each started at "allocation limit", and spent 8.5 CPU s;
// with the floor, 17 mark-compacts and 4.0 CPU s. The storage agent's CPU for a 4 GiB full fell
// from 25–29 s to 12 s. 32 MiB was measured and is not enough (the host agent kept its 8.4 CPU s);
// 128 MiB gains nothing more and added 10 MiB of peak RSS (docs/performance-notes.md).
export const AGENT_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/** The flags of AGENT_NODE_FLAGS that `execArgv` (node's own options) does not set, whatever value it gives them. */
export function missingAgentNodeFlags(execArgv: readonly string[]): string[] {
  const nameOf = (flag: string): string => flag.split('=')[0]!.replaceAll('_', '-');
  const given = new Set(execArgv.map(nameOf));
  return AGENT_NODE_FLAGS.filter((flag) => !given.has(nameOf(flag)));
}
