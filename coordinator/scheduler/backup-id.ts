// Backup ids as docs/remote-format.md recommends: `YYYYMMDDTHHMMSSZ-<suffix>` (UTC), so names
// sort by time; the suffix makes ids of one VM at one second distinct. Chosen by the
// coordinator when the task is created and kept across retries: a repeated attempt commits
// the same backup id, which the storage agent accepts once.
export function backupIdFor(at: Date, suffix: string): string {
  if (!/^[0-9A-Za-z]{1,40}$/.test(suffix)) throw new RangeError(`backup id suffix must be 1-40 letters or digits, got "${suffix}"`);
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${stamp}-${suffix}`;
}
