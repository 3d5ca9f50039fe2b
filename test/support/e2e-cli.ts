// Runs the `deltachain` CLI as a person would, against a coordinator's local socket (DELTACHAIN_SOCKET),
// and collects its exit code and output.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LabStack } from '../../lab/story/index.js';

const BIN = fileURLToPath(new URL('../../bin/deltachain.mjs', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCliAt(socket: string, args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, DELTACHAIN_API: '', DELTACHAIN_SOCKET: socket }, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

export function runCli(stack: LabStack, args: string[], timeoutMs?: number): Promise<CliResult> {
  return runCliAt(stack.coordinatorSocket, args, timeoutMs);
}
