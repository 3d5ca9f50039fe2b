// The coordinator as the bench runs it: a real `deltachain coordinator --config FILE` process,
// so its CPU time and RSS can be read from /proc apart from everything else. Its JSON log lines
// are drained (only the start line is looked at, so a 10k-task night does not pile up in the
// bench's memory); `nodeArgs` lets a profiling run add e.g. `--cpu-prof`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/deltachain.mjs', import.meta.url));

export interface CoordinatorProcess {
  pid: number;
  /** The control API's port. */
  port: number;
  /** Log lines at level warn or above (40+), kept for the report. */
  warnings: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnCoordinator(configPath: string, nodeArgs: string[] = [], timeoutMs = 60_000): Promise<CoordinatorProcess> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, BIN, 'coordinator', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const warnings: string[] = [];
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coordinator not started within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (/"level":[4-6]\d/.test(line) && warnings.length < 50) warnings.push(line);
      if (!line.includes('"coordinator started"')) return;
      const entry = JSON.parse(line) as { port: number };
      clearTimeout(timer);
      resolve(Number(entry.port));
    });
    void exited.then(() => (clearTimeout(timer), reject(new Error(`coordinator exited before it started: ${stderr}`))));
  });
  return {
    pid: child.pid!,
    port,
    warnings,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
