// Node options that make a spawned Deltachain process write a V8 CPU profile when BENCH_CPU_PROF_DIR
// is set (Node 20 refuses --cpu-prof in NODE_OPTIONS, so each spawn adds it). Summarise the
// profiles with test/bench/profile-summary.ts.
export function profileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}
