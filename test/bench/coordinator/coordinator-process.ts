// The coordinator as the bench runs it: a real `deltachain coordinator --config FILE` process,
// so its CPU time and RSS can be read from /proc apart from everything else; `nodeArgs` lets a
// profiling run add e.g. `--cpu-prof`.
//
// Its JSON log lines go to a file (`logPath`), as they would to journald or a log file: read
// through a pipe by this busy bench process, a 10k-task night's lines filled the pipe and the
// coordinator's synchronous log writes waited on it (a quarter of its profiled time). The file is
// read for the start line and, at the end, for the warnings.
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/deltachain.mjs', import.meta.url));

export interface CoordinatorProcess {
  pid: number;
  /** The control API's port. */
  port: number;
  /** Log lines at level warn or above (40+), the first 50. */
  warnings(): Promise<string[]>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnCoordinator(configPath: string, logPath: string, nodeArgs: string[] = [], timeoutMs = 60_000): Promise<CoordinatorProcess> {
  const logFile = await open(logPath, 'w');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...nodeArgs, BIN, 'coordinator', '--config', configPath], { stdio: ['ignore', logFile.fd, 'pipe'] });
  } finally {
    await logFile.close();
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exitedEarly = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => ((exitedEarly = true), resolve())));
  const port = await waitForStart(logPath, () => exitedEarly, timeoutMs, () => stderr);
  return {
    pid: child.pid!,
    port,
    async warnings() {
      const lines = (await readFile(logPath, 'utf8')).split('\n');
      return lines.filter((line) => /"level":[4-6]\d/.test(line)).slice(0, 50);
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

async function waitForStart(logPath: string, exited: () => boolean, timeoutMs: number, stderr: () => string): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = (await readFile(logPath, 'utf8')).split('\n').find((l) => l.includes('"coordinator started"'));
    if (line) return Number((JSON.parse(line) as { port: number }).port);
    if (exited()) throw new Error(`coordinator exited before it started: ${stderr()}`);
    if (Date.now() > deadline) throw new Error(`coordinator not started within ${timeoutMs} ms: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
