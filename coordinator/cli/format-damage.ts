// Damaged backups in words, for `verify` and `backup list`: per backup, each damaged disk with
// the file at fault and its bad blocks, and why. Lists of blocks are cut after a few dozen (the
// JSON output has them all).
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';

/** One finding on one backup, as a verify result stores it (or `backup list` returns it). */
export interface DamageEntry {
  backupId: string;
  diskKey: string;
  file: string;
  blocks: number[];
  reason: string;
}

const SHOWN_BLOCKS = 24;

export function formatBlocks(blocks: readonly number[]): string {
  if (blocks.length === 0) return '';
  const shown = blocks.slice(0, SHOWN_BLOCKS).join(', ');
  return blocks.length > SHOWN_BLOCKS ? `${blocks.length === 1 ? 'block' : 'blocks'} ${shown}, … (${blocks.length} in all)` : `${blocks.length === 1 ? 'block' : 'blocks'} ${shown}`;
}

/** "disk <key>: <file> blocks 3, 7: <reason>" */
export function damageLine(entry: Omit<DamageEntry, 'backupId'>): string {
  const disk = entry.diskKey === '' ? 'every disk' : `disk ${entry.diskKey}`;
  const where = [entry.file === '' ? '' : `file ${entry.file}`, formatBlocks(entry.blocks)].filter((part) => part !== '').join(' ');
  return `${disk}: ${where === '' ? '' : `${where}: `}${entry.reason}`;
}

/** Entries grouped by backup (in first-seen order), duplicates (same backup, disk and file) once. */
export function groupDamage(entries: readonly DamageEntry[]): Map<string, DamageEntry[]> {
  const out = new Map<string, DamageEntry[]>();
  const seen = new Set<string>();
  for (const entry of entries) {
    const key = JSON.stringify([entry.backupId, entry.diskKey, entry.file]);
    if (seen.has(key)) continue;
    seen.add(key);
    const list = out.get(entry.backupId) ?? [];
    list.push(entry);
    out.set(entry.backupId, list);
  }
  return out;
}

/** Text: every damaged backup, then its findings indented; '' when there are none. */
export function formatDamage(entries: readonly DamageEntry[]): string {
  const lines: string[] = [];
  for (const [backupId, list] of groupDamage(entries)) {
    lines.push(`  backup ${backupId}`);
    for (const entry of list) lines.push(`    ${damageLine(entry)}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export function damageOfBackups(backups: readonly wire.Backup[]): DamageEntry[] {
  return backups.flatMap((b) => b.damage.map((d) => ({ backupId: b.id, diskKey: d.diskKey, file: d.file, blocks: d.blocks, reason: d.reason })));
}
