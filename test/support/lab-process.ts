// Runs `deltachain-lab pool` as a separate process, as an operator would, and reads its JSON
// banner (url, credentials, VMs). Stopping sends SIGTERM (clean shutdown) or SIGKILL (a crash).
import { profileArgs } from './profile-args.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { LabSummary } from '../../lab/pool/index.js';
import { LAB_NODE_FLAGS } from '../../lab/pool/lab-node-flags.js';

const BIN = fileURLToPath(new URL('../../bin/lab.mjs', import.meta.url));

export interface LabBanner extends LabSummary {
  url: string;
  urlWithCredentials: string;
  user: string;
  password: string;
  state: string;
}

export interface LabProcess {
  banner: LabBanner;
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

export async function startLabProcess(args: string[], timeoutMs = 30_000): Promise<LabProcess> {
  const child = spawn(process.execPath, [...LAB_NODE_FLAGS, ...profileArgs(), BIN, 'pool', '--json', '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const banner = await new Promise<LabBanner>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`lab pool did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(line!) as LabBanner);
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`lab pool exited with ${code}: ${stderr}`));
    });
  });
  return {
    banner,
    child,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
