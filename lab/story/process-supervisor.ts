// Runs the lab's long-running parts (lab pool, storage and host agents, coordinator, a private
// nats-server) as real child processes, the way an operator would start them: each one's
// stdout and stderr go line by line to its own log file, JSON log lines are kept (the last few
// hundred) and offered to a readiness test, and `stopAll` stops them all at once with SIGTERM —
// SIGKILL only for one that does not exit within a grace period (a process still starting
// included). A process that exits on its own while the lab runs is reported through `onExit`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DeltachainError } from '../../shared/errors.js';

export class LabProcessError extends DeltachainError {
  override name = 'LabProcessError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('LAB_PROCESS', message, options);
  }
}

export interface StartProcessOptions<T> {
  /** Short name: log file `<logs>/<name>.log` and messages. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Looks at each output line (and its JSON, when it is JSON); a value means "ready". */
  ready: (line: string, json: Record<string, unknown> | undefined) => T | undefined;
  /** Milliseconds to wait for readiness. */
  timeoutMs?: number;
}

export interface SupervisedProcess<T = unknown> {
  name: string;
  child: ChildProcess;
  /** What `ready` returned. */
  value: T;
  logFile: string;
  /** The last JSON log lines (at most 500). */
  logs: Record<string, unknown>[];
  /** Resolves when the process has exited (with its code, or null after a signal). */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const KEEP_LOGS = 500;

export class ProcessSupervisor {
  private readonly processes: SupervisedProcess[] = [];
  private stopping = false;

  /** `onExit` hears of a process that exited while nobody asked it to. */
  constructor(private readonly logFolder: string, private readonly onExit: (name: string, code: number | null, signal: string | null) => void = () => {}) {}

  get running(): readonly SupervisedProcess[] {
    return this.processes;
  }

  async start<T>(options: StartProcessOptions<T>): Promise<SupervisedProcess<T>> {
    await mkdir(this.logFolder, { recursive: true });
    const logFile = join(this.logFolder, `${options.name}.log`);
    const child = spawn(options.command, options.args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    const exited = new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(null));
      child.once('exit', (code) => resolve(code));
    });
    const supervised: SupervisedProcess<T> = {
      name: options.name,
      child,
      value: undefined as T,
      logFile,
      logs: [],
      exited,
      stop: (signal = 'SIGTERM', graceMs = 15_000) => stopChild(child, exited, signal, graceMs),
    };
    // Known from the spawn on, so stopAll also stops a process still starting.
    this.processes.push(supervised as SupervisedProcess);
    void exited.then((code) => {
      const index = this.processes.indexOf(supervised as SupervisedProcess);
      if (index >= 0) this.processes.splice(index, 1);
      if (!this.stopping && index >= 0 && supervised.value !== undefined) this.onExit(options.name, code, child.signalCode);
    });
    supervised.value = await waitUntilReady(options, supervised, createWriteStream(logFile, { flags: 'a' }));
    return supervised;
  }

  /**
   * Stops every process at once (SIGTERM; SIGKILL after `graceMs`) — those named in `last` once
   * the others have exited (a server the others talk to while they stop).
   */
  async stopAll(graceMs = 15_000, last: readonly string[] = []): Promise<void> {
    this.stopping = true;
    const later = this.processes.filter((p) => last.includes(p.name));
    await Promise.all(this.processes.filter((p) => !later.includes(p)).map((p) => p.stop('SIGTERM', graceMs)));
    await Promise.all(later.map((p) => p.stop('SIGTERM', graceMs)));
  }
}

/** Logs every output line; resolves with the first `ready` value, rejects on exit or timeout. */
function waitUntilReady<T>(options: StartProcessOptions<T>, p: SupervisedProcess<T>, log: WriteStream): Promise<T> {
  const { child, logFile } = p;
  const tail: string[] = [];
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  void closed.then(() => log.end());
  return new Promise<T>((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 90_000;
    let settled = false;
    const fail = (error: LabProcessError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new LabProcessError(`${options.name} was not ready within ${timeoutMs / 1000} s; its log: ${logFile}\n${tail.join('\n')}`));
    }, timeoutMs);
    const onLine = (line: string): void => {
      writeLine(log, line);
      const json = parseJson(line);
      if (json) keep(p.logs, json, KEEP_LOGS);
      keep(tail, line, 20);
      if (settled) return;
      const ready = options.ready(line, json);
      if (ready === undefined) return;
      settled = true;
      clearTimeout(timer);
      resolve(ready);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('error', (error) => fail(new LabProcessError(`cannot start ${options.name} (${options.command}): ${error.message}`, { cause: error })));
    // On an early exit, let the output be read before quoting it.
    void p.exited.then((code) => closed.then(() => fail(new LabProcessError(`${options.name} exited (${code ?? child.signalCode}) before it was ready; its log: ${logFile}\n${tail.join('\n')}`))));
  });
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function writeLine(log: WriteStream, line: string): void {
  if (!log.writableEnded) log.write(`${line}\n`);
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function keep<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
