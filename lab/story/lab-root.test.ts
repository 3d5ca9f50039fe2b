import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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

  it('stops the processes a dead lab left running — only those whose command line names the folder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dc-lab-root-'));
    folders.push(root);
    const script = 'setInterval(() => {}, 1000)';
    const left = spawn(process.execPath, ['-e', script, join(root, 'config', 'coordinator.json')], { stdio: 'ignore' });
    const stranger = spawn(process.execPath, ['-e', script, '/elsewhere'], { stdio: 'ignore' });
    const leftExit = new Promise((resolve) => left.once('exit', (_code, signal) => resolve(signal)));
    try {
      await new Promise((r) => setTimeout(r, 300));
      await writeFile(join(root, 'lab.pid'), '999999999\n');
      await writeFile(join(root, 'lab.pids'), `${left.pid}\n${stranger.pid}\n`);
      const claim = await claimLabRoot(root);
      assert.equal(claim.leftoversStopped, 1);
      assert.equal(await leftExit, 'SIGTERM');
      assert.equal(stranger.exitCode, null, 'a process that is not the lab\'s is left alone');
      await claim.recordProcesses([123, 456]);
      assert.equal(await readFile(join(root, 'lab.pids'), 'utf8'), '123\n456\n');
      await claim.release();
      assert.deepEqual(await readdir(root), []);
    } finally {
      left.kill('SIGKILL');
      stranger.kill('SIGKILL');
    }
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
