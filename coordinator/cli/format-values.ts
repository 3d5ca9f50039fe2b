// Human forms of instants and durations for tables and progress lines (sizes: shared/human-units.ts).

/** "2024-06-01 02:00:00Z"; "-" for 0 (not set). */
export function humanTime(ms: number): string {
  if (ms === 0) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

/** "5m12s ago" relative to `now`; "-" for 0. */
export function humanAgo(ms: number, now: number): string {
  return ms === 0 ? '-' : `${humanDuration(now - ms)} ago`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
