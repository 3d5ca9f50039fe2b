// Runs `deltachain-lab …` in this process through the lab's own entry point (lab/main.ts),
// capturing what it prints. Cheaper than a child process (no second tsx start) for commands that
// do not need a process of their own; `pool` runs as a real process (lab-process.ts).
import { main } from '../../lab/main.js';

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runLabCli(args: string[]): Promise<InProcessResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  const stderrWrite = process.stderr.write.bind(process.stderr);
  const savedExitCode = process.exitCode;
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'deltachain-lab', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
    process.exitCode = savedExitCode;
  }
}
