import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { claimLabRoot, LabRootBusyError } from './lab-root.js';

describe('claimLabRoot', () => {
  const folders: string[] = [];
  after(async () => {
    for (const f of folders) await rm(f, { recursive: true, force: true });
  });

  it('cleans the previous lab\'s sub-folders only, and releases its pid file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dc-lab-root-'));
    folders.push(root);
    await mkdir(join(root, 'remotes', 'nas'), { recursive: true });
    await writeFile(join(root, 'remotes', 'nas', 'x.vhd'), 'old');
    await writeFile(join(root, 'notes.txt'), 'mine');
    await writeFile(join(root, 'lab.pid'), '999999999\n'); // a pid that cannot be alive
    const claim = await claimLabRoot(root);
    assert.deepEqual((await readdir(root)).sort(), ['lab.pid', 'notes.txt']);
    await claim.release();
    assert.deepEqual(await readdir(root), ['notes.txt']);
  });

  it('refuses a folder a running lab holds, saying how to stop it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dc-lab-root-'));
    folders.push(root);
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      await writeFile(join(root, 'lab.pid'), `${other.pid}\n`);
      await assert.rejects(claimLabRoot(root), (error: unknown) => error instanceof LabRootBusyError && new RegExp(`kill ${other.pid}`).test((error as Error).message));
    } finally {
      other.kill('SIGKILL');
    }
  });
});
