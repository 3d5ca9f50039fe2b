// What a task's outcome says about damaged backups, in catalogue terms (pure):
//   * a verify result names the damaged backups itself (`damaged`: the verified backup and every
//     backup whose chain holds a damaged file). A storage agent that does not fill that list
//     still reports what it found in the verified backup's chain — bad blocks (disk, file,
//     index) and problems — and then that backup is the damaged one;
//   * a restore that failed on the data (RESTORE_DIGEST_MISMATCH from the host agent's check,
//     DATA_DAMAGED from the storage agent's) names the backup restored and, in its message
//     (`… disk <key>: …`), the disk; a message naming none marks every disk of the backup.
// A finding that names no disk ('') stands for every disk of its backup.
import type { DamageFinding } from '../catalogue/index.js';
import type { TaskFailure } from '../lifecycle/index.js';
import type { TaskOutput } from './agent-event.js';

/** Failure codes that mean the backup's data is damaged (not the pool, the network or a request). */
export const DATA_ERROR_CODES: ReadonlySet<string> = new Set(['RESTORE_DIGEST_MISMATCH', 'DATA_DAMAGED']);

type VerifyOutput = Extract<TaskOutput, { kind: 'verify' }>;

/** The damaged backups a verify of `backupId` found (empty when it found none). */
export function verifyFindings(backupId: string, output: VerifyOutput): DamageFinding[] {
  if (output.damaged.length > 0) return output.damaged;
  if (output.ok) return [];
  const byFile = new Map<string, DamageFinding>();
  for (const bad of output.badBlockList) {
    const key = JSON.stringify([bad.diskKey, bad.path]);
    const found = byFile.get(key) ?? { backupId, diskKey: bad.diskKey, file: bad.path, blocks: [], reason: bad.reason };
    found.blocks.push(bad.index);
    if (!found.reason.split('; ').includes(bad.reason)) found.reason += `; ${bad.reason}`;
    byFile.set(key, found);
  }
  const problems = output.problems.map((problem) => ({ backupId, diskKey: diskNamedIn(problem) ?? '', file: '', blocks: [], reason: problem }));
  const findings = [...byFile.values(), ...problems];
  return findings.length > 0 ? findings : [{ backupId, diskKey: '', file: '', blocks: [], reason: 'verify failed without naming what it found' }];
}

/** The damage a failed restore of `backupId` shows, if it failed on the data. */
export function restoreFinding(backupId: string, failure: TaskFailure, diskKeys: readonly string[]): DamageFinding | undefined {
  if (!DATA_ERROR_CODES.has(failure.code)) return undefined;
  const named = diskNamedIn(failure.message);
  const diskKey = named !== undefined && diskKeys.includes(named) ? named : '';
  return { backupId, diskKey, file: '', blocks: [], reason: `restore failed: ${failure.code}: ${failure.message}` };
}

/** The disk key a message names — `disk <key>:` or `disk <key>,` (the agents' wording), or a path `disks/<key>/` — if any. */
function diskNamedIn(message: string): string | undefined {
  return /\bdisk ([^\s:,;]+)[:,]/.exec(message)?.[1] ?? /\bdisks\/([^/\s]+)\//.exec(message)?.[1];
}
