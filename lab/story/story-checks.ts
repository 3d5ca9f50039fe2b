// The checks the lab story makes, as pure functions over what happened (run summaries, counts,
// digests) returning a verdict and a sentence for people. `npm run lab -- --once` exits non-zero
// when any verdict is false.
import { BLOCK_SIZE_BYTES } from './format-units.js';
import { backupKind, type BackupOutcome } from './run-summary.js';
import { humanSize } from '../../shared/human-units.js';

export interface Check {
  ok: boolean;
  text: string;
}

/** Per changed block: its data plus a sector bitmap; per disk: headers, BAT, footers. */
const PER_BLOCK_SLACK = 4096;
const PER_DISK_SLACK = 64 * 1024;

/** Bytes a delta should send for `blocks` changed 2 MiB blocks over `disks` disks: [min, max]. */
export function expectedDeltaBytes(blocks: number, disks: number): [number, number] {
  const data = blocks * BLOCK_SIZE_BYTES;
  return [data, data + blocks * PER_BLOCK_SLACK + disks * PER_DISK_SLACK];
}

export function checkFull(name: string, backup: BackupOutcome): Check {
  const kind = backupKind(backup);
  return { ok: kind === 'full', text: `${name}: every disk exported in full (${kind}, ${humanSize(backup.bytesSent)} sent)` };
}

export function checkDelta(name: string, backup: BackupOutcome, changedBlocks: number): Check {
  const kind = backupKind(backup);
  const [min, max] = expectedDeltaBytes(changedBlocks, backup.disks ?? 1);
  const sized = backup.bytesSent >= min && backup.bytesSent <= max;
  return {
    ok: kind === 'delta' && sized,
    text: `${name}: a delta (${kind}) of ${humanSize(backup.bytesSent)} for ${changedBlocks} changed block${changedBlocks === 1 ? '' : 's'} (expected ${humanSize(min)}${max > min ? ` to ${humanSize(max)}` : ''})`,
  };
}

/** Every disk of the backup read over CBT and NBD (the lab pool serves NBD on a network with purpose `nbd`). */
export function checkReadOverCbt(name: string, backup: BackupOutcome): Check {
  const other = backup.reads.filter((read) => read.readMethod !== 'cbt-nbd');
  const said = other.map((read) => `${read.diskKey}: ${read.readMethod || 'not reported'}${read.fallbackReason ? ` (${read.fallbackReason})` : ''}`).join(', ');
  return {
    ok: backup.reads.length > 0 && other.length === 0,
    text: `${name}: ${backup.reads.length} disk${backup.reads.length === 1 ? '' : 's'} read over CBT and NBD${other.length > 0 ? ` — not: ${said}` : ''}`,
  };
}

export function checkRetained(name: string, remote: string, catalogue: number, onRemote: number, retention: number): Check {
  return {
    ok: catalogue === retention && onRemote === retention,
    text: `${name}: remote ${remote} holds ${onRemote} backups, the catalogue ${catalogue} (retention ${retention})`,
  };
}

export function checkMerged(remote: string, merges: number, expected: number): Check {
  return { ok: merges === expected, text: `${merges} merge${merges === 1 ? '' : 's'} ran on the storage agent of ${remote} (expected ${expected})` };
}

export function checkOneSnapshot(name: string, snapshots: number): Check {
  return { ok: snapshots === 1, text: `${name}: ${snapshots} reference snapshot${snapshots === 1 ? '' : 's'} on the pool (expected exactly 1)` };
}

export function checkRunSucceeded(label: string, state: string, failures: string[]): Check {
  return { ok: state === 'succeeded', text: `${label}: run ${state}${failures.length > 0 ? ` — ${failures.join('; ')}` : ''}` };
}
