// "Nothing left behind" on a remote, as an operator would check it: every file under the remote's
// root is accounted for by the catalogue (`backup list`): the marker, and for each listed backup
// its metadata file, its disks and their checksums — and a `remote scan` with the CLI's default
// grace (3600 s) reports no garbage (the scan reports garbage of any age; the grace only decides
// what may be removed).
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { LabStack } from '../../lab/story/index.js';
import { waitForTask } from '../../lab/story/index.js';

const DEFAULT_GRACE_SECONDS = 3600;

/** Files under the remote's root that no backup in the catalogue accounts for. */
export async function unaccountedFiles(stack: LabStack, remote: string, root: string): Promise<string[]> {
  const listed = (await stack.control.listBackups({ vmUuid: '', remote, all: false })).backups;
  const known = new Set(listed.map((b) => `${b.vmUuid}/${b.id}`));
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name)).split('\\').join('/'));
  return files.filter((path) => !accountedFor(path, known)).sort();
}

function accountedFor(path: string, known: Set<string>): boolean {
  if (path === 'deltachain-remote.json') return true;
  const metadata = /^vms\/([0-9a-f-]{36})\/backups\/([^/.]+)\.json$/.exec(path);
  if (metadata) return known.has(`${metadata[1]}/${metadata[2]}`);
  const disk = /^vms\/([0-9a-f-]{36})\/disks\/[^/]+\/([^/.]+)\.vhd(\.sums)?$/.exec(path);
  return disk !== null && known.has(`${disk[1]}/${disk[2]}`);
}

/** Runs a scan of the remote (no removal, default grace) and returns how much garbage it reported. */
export async function scanGarbage(stack: LabStack, remote: string): Promise<number> {
  const { task } = await stack.control.scanRemote({ name: remote, removeGarbage: false, accept: false, graceSeconds: DEFAULT_GRACE_SECONDS });
  const done = await waitForTask(stack.control, task!.id, 60_000);
  if (done.state !== 'succeeded') throw new Error(`scan of ${remote} ${done.state}: ${done.errorCode} ${done.errorMessage}`);
  return (JSON.parse(done.resultJson) as { garbage: number }).garbage;
}
