// The V8 flags and allocator settings an agent process runs with: the systemd unit and the
// image pass them to node, the benchmarks and tests too, and `deltachain agent` warns when they
// are missing.
//
// --initial-old-space-size=64 sets a floor under the old generation's allocation limit. An agent's
// JS heap is small (about 20 MiB live) while the data it streams passes through it as buffers, so
// without a floor V8 computes a limit a few dozen MiB above the live heap and reaches it again
// within a tenth of a second: measured on a scattered CBT delta (4 GiB disk, 1 % in 4 KiB pages),
// the host agent ran 748 mark-compacts, each started at "allocation limit", and spent 8.5 CPU s;
// with the floor, 17 mark-compacts and 4.0 CPU s. The storage agent's CPU for a 4 GiB full fell
// from 25–29 s to 12 s. 32 MiB was measured and is not enough (the host agent kept its 8.4 CPU s);
// 128 MiB gains nothing more and added 10 MiB of peak RSS (docs/performance-notes.md).
//
// --max-semi-space-size=8 halves V8's young generation (16 MiB semi-spaces by default): with the
// malloc settings below the host agent's peak RSS on the 16 GiB agent bench was 196–203 MiB, over
// the 200 MiB bound in one run of three; with 8 MiB semi-spaces 183–190 MiB, CPU per GiB 2.30–2.35
// against 2.14–2.51 (within the runs' spread).
export const AGENT_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64', '--max-semi-space-size=8'];

/** The flags of AGENT_NODE_FLAGS that `execArgv` (node's own options) does not set, whatever value it gives them. */
export function missingAgentNodeFlags(execArgv: readonly string[]): string[] {
  const nameOf = (flag: string): string => flag.split('=')[0]!.replaceAll('_', '-');
  const given = new Set(execArgv.map(nameOf));
  return AGENT_NODE_FLAGS.filter((flag) => !given.has(nameOf(flag)));
}

// GLIBC_TUNABLES (glibc reads it when the process starts, so it lives in the environment). A
// disk's blocks pass through an agent as 2 MiB buffers (gRPC's framed and reassembled messages)
// that the garbage collector frees a few at a time. By default glibc serves those from mmap, or
// gives the heap's free top back to the kernel, so nearly every new block buffer was fresh memory:
// each page faulted in and zeroed by the kernel, about 0.5 CPU s per GiB per buffer on this
// project's machines (a 2 MiB copy into a fresh buffer ran at 2–3 GiB/s, into kept memory at 10–12).
// Serving requests up to 4 MiB from the heap keeps those pages for the next buffers. The trim
// threshold is a trade between CPU and peak RSS: at 8 MiB the host agent's first full after start
// still faulted in ~930 MiB (238 000 faults; 14.7 CPU s against 8.5 for the third full), at 16 MiB
// 160 MiB (9.1 against 8.2–8.7 s) with the same peak RSS; 32 MiB put its peak over 200 MiB.
// Measured on 4 GiB fulls (docs/performance-notes.md): host agent 11.4–18.1 CPU s without the
// tunables; the 16 GiB agent bench at 16 MiB: 2.19 CPU s per GiB (3.43 before), peak RSS 188 MiB.
// Without glibc (musl) the variable means nothing and is not asked for.
export const AGENT_MALLOC_TUNABLES: readonly string[] = ['glibc.malloc.mmap_threshold=4194304', 'glibc.malloc.trim_threshold=16777216'];

/** The tunables of AGENT_MALLOC_TUNABLES that a GLIBC_TUNABLES value does not set, whatever value it gives them. */
export function missingMallocTunables(value: string | undefined): string[] {
  const given = new Set((value ?? '').split(':').map((entry) => entry.split('=')[0]!.trim()));
  return AGENT_MALLOC_TUNABLES.filter((tunable) => !given.has(tunable.split('=')[0]!));
}

/** `env` with AGENT_MALLOC_TUNABLES added to what its GLIBC_TUNABLES sets (its own values kept): for spawning an agent. */
export function agentEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const missing = missingMallocTunables(env['GLIBC_TUNABLES']);
  if (missing.length === 0) return env;
  const current = env['GLIBC_TUNABLES'];
  return { ...env, GLIBC_TUNABLES: [...(current ? [current] : []), ...missing].join(':') };
}

/** Whether this process runs on glibc (whose allocator GLIBC_TUNABLES tunes). */
export function runsOnGlibc(): boolean {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}
