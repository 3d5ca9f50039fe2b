// Measures an external command the way the suite measures Deltachain's own processes: the whole
// process tree's CPU, the peak RSS of its largest process and its I/O, read by the kernel rather
// than reported by the tool. A tiny python wrapper (measure-command.py) starts the command, waits
// for it and reads getrusage(RUSAGE_CHILDREN) and /proc/self/io, which include every reaped
// descendant — so a `sh -c 'tool && sync'` is measured as a whole.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const WRAPPER = fileURLToPath(new URL('./measure-command.py', import.meta.url));
/** Debian's python, not a pyenv shim (whose bash start-up would only add noise). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const STDERR_TAIL = 4096;

export interface CommandMeasure {
  /** Seconds from the command's start to its exit (the wrapper's own start-up excluded). */
  wallSec: number;
  /** User + system CPU seconds of the whole process tree. */
  cpuSec: number;
  userSec: number;
  sysSec: number;
  /** Peak RSS of the largest process of the tree (MiB). */
  peakRssMiB: number;
  /** Bytes passed to read()-like calls by the tree, page cache hits included. */
  rcharBytes: number;
  /** Bytes the tree fetched from the storage layer (0 when everything came from the page cache). */
  readBytes: number;
  /** Bytes the tree caused to be written to the storage layer. */
  writeBytes: number;
  /** The command's whole standard output. */
  stdout: string;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A measured command that could not start or exited non-zero. */
export class PeerCommandError extends Error {
  override readonly name = 'PeerCommandError';
  readonly code = 'PEER_COMMAND_FAILED';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderrTail: string,
    options?: { cause?: unknown },
  ) {
    super(`${argv.join(' ')} failed (exit ${exitCode ?? 'by signal'}): ${stderrTail.trim() || '(no stderr)'}`, options);
  }
}

interface WrapperReport {
  exitCode: number;
  wallSec: number;
  userSec: number;
  sysSec: number;
  peakRssKiB: number;
  rchar: number;
  readBytes: number;
  writeBytes: number;
}

/** Runs argv as a child process and measures its whole process tree; non-zero exit → PeerCommandError. */
export async function measureCommand(argv: string[], o: CommandOptions = {}): Promise<CommandMeasure> {
  if (argv.length === 0) throw new RangeError('measureCommand needs a command');
  const child = spawn(PYTHON, [WRAPPER, ...argv], { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  let stderr = '';
  let report = '';
  child.stdout!.on('data', (b: Buffer) => stdout.push(b));
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-STDERR_TAIL)));
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => (report += b.toString('utf8')));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  let measured: WrapperReport;
  try {
    measured = JSON.parse(report) as WrapperReport;
  } catch (cause) {
    throw new PeerCommandError(argv, exitCode, `${stderr}\n(the measuring wrapper reported nothing: is ${PYTHON} installed?)`, { cause });
  }
  if (measured.exitCode !== 0) throw new PeerCommandError(argv, measured.exitCode, stderr);
  return {
    wallSec: measured.wallSec,
    cpuSec: measured.userSec + measured.sysSec,
    userSec: measured.userSec,
    sysSec: measured.sysSec,
    peakRssMiB: measured.peakRssKiB / 1024,
    rcharBytes: measured.rchar,
    readBytes: measured.readBytes,
    writeBytes: measured.writeBytes,
    stdout: Buffer.concat(stdout).toString('utf8'),
  };
}

/**
 * Measures a restore command and then an fsync of every regular file under `dir` (coreutils
 * `sync FILE…`, fsync per file), timed together, so the figure is that of a durable restore.
 */
export async function measureThenFsync(argv: string[], dir: string, o: CommandOptions = {}): Promise<CommandMeasure> {
  const script = 'dir=$1; shift; "$@" && find "$dir" -type f -exec sync -- {} +';
  return measureCommand(['sh', '-c', script, 'sh', dir, ...argv], o);
}
