// The raw limits a backup of one file is compared with, measured on the same machine in the same
// run: the file's bytes over loopback TCP from one process to another that writes and fsyncs them
// (what any network backup must at least do), and a local `cp` with and without the fsync. All read
// a file that is warm in the page cache, as the peer tools and Deltachain do in the suite.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { measureCommand } from './measure-command.js';

const SCRIPT = fileURLToPath(new URL('./raw-tcp-copy.py', import.meta.url));
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

interface End {
  lines: AsyncIterator<string>;
  exited: Promise<void>;
}

function start(args: string[]): End {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-2000)));
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`raw-tcp-copy.py ${args[0]} exited ${code}: ${stderr.trim()}`))));
  });
  return { lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator](), exited };
}

async function nextLine(end: End, what: string): Promise<string> {
  const line = await end.lines.next();
  if (line.done) {
    await end.exited;
    throw new Error(`raw-tcp-copy.py ended without printing ${what}`);
  }
  return line.value;
}

/** The file sent over loopback TCP (4 MiB writes) to a receiver that writes dstFile and fsyncs. */
export async function rawTcpCopy(srcFile: string, dstFile: string): Promise<{ wallSec: number; cpuSec: number; bytes: number }> {
  const receiver = start(['receive', dstFile]);
  const port = await nextLine(receiver, 'its port');
  const sender = start(['send', srcFile, port]);
  const [sent, received] = await Promise.all([
    nextLine(sender, 'its report').then((l) => JSON.parse(l) as { start: number; bytes: number; cpuSec: number }),
    nextLine(receiver, 'its report').then((l) => JSON.parse(l) as { end: number; bytes: number; cpuSec: number }),
    sender.exited,
    receiver.exited,
  ]);
  if (sent.bytes !== received.bytes) throw new Error(`raw TCP copy: ${sent.bytes} bytes sent but ${received.bytes} received`);
  return { wallSec: received.end - sent.start, cpuSec: sent.cpuSec + received.cpuSec, bytes: received.bytes };
}

/**
 * coreutils `cp src dst` (which copies in the kernel with copy_file_range where it can), then
 * `sync dst` (an fsync): wallSec is the cp alone, wallWithFsyncSec cp and fsync.
 */
export async function copyFile(src: string, dst: string): Promise<{ wallSec: number; wallWithFsyncSec: number; bytes: number }> {
  const copied = await measureCommand(['cp', '--', src, dst]);
  const synced = await measureCommand(['sync', '--', dst]);
  return { wallSec: copied.wallSec, wallWithFsyncSec: copied.wallSec + synced.wallSec, bytes: (await stat(dst)).size };
}
