// Durations the way the story prints them, and the block size its figures count in (sizes:
// shared/human-units.ts).
export const BLOCK_SIZE_BYTES = 2 * 1024 * 1024;

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
