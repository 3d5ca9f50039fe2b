// Harness of the deploy and observability tests: runs `deltachain …` (and `deltachain-lab …`)
// as child processes the way an operator (or systemd, or a container) would, reads their JSON
// log lines until a readiness line, and stops them with a signal, reporting how they exited. Also a scraper for /healthz and
// /metrics and a reader of one sample in Prometheus text.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { netnsExec } from './site-net.js';

export const BIN = fileURLToPath(new URL('../../bin/deltachain.mjs', import.meta.url));
export const LAB_BIN = fileURLToPath(new URL('../../bin/lab.mjs', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from the stop signal to the exit. */
  ms: number;
}

export interface StartOptions {
  /** A network namespace to run it in (a site of test/support/site-net.ts); default the test's own. */
  netns?: string;
}

export interface RunningProcess<T> {
  name: string;
  child: ChildProcess;
  /** What the readiness predicate returned. */
  ready: T;
  /** Every JSON line seen on stdout and stderr. */
  logs: Record<string, unknown>[];
  /** Resolves when the process exits (whoever ended it). */
  exited: Promise<Exit>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/** Spawns `deltachain ...args`; resolves once `ready` returns a value for a JSON line. */
export function startDeltachain<T>(name: string, args: string[], ready: (line: Record<string, unknown>) => T | undefined, timeoutMs = 60_000, options: StartOptions = {}): Promise<RunningProcess<T>> {
  return startCommand(BIN, name, args, ready, timeoutMs, options);
}

/** Spawns `deltachain-lab ...args` (the lab pool); resolves as startDeltachain does. */
export function startDeltachainLab<T>(name: string, args: string[], ready: (line: Record<string, unknown>) => T | undefined, timeoutMs = 60_000, options: StartOptions = {}): Promise<RunningProcess<T>> {
  return startCommand(LAB_BIN, name, args, ready, timeoutMs, options);
}

async function startCommand<T>(bin: string, name: string, args: string[], ready: (line: Record<string, unknown>) => T | undefined, timeoutMs: number, options: StartOptions): Promise<RunningProcess<T>> {
  const [file, argv] = options.netns === undefined ? [process.execPath, [bin, ...args]] : netnsExec(options.netns, process.execPath, [bin, ...args]);
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let text = '';
  let stoppedAt = 0;
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, ms: stoppedAt ? Date.now() - stoppedAt : 0 })));
  const value = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within ${timeoutMs} ms:\n${text.slice(-4000)}`)), timeoutMs);
    const onLine = (line: string): void => {
      text += `${line}\n`;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      const found = ready(entry);
      if (found !== undefined) (clearTimeout(timer), resolve(found));
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((e) => (clearTimeout(timer), reject(new Error(`${name} exited (${e.code ?? e.signal}) before it was ready:\n${text.slice(-4000)}`))));
  });
  return {
    name,
    child,
    ready: value,
    logs,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        stoppedAt = Date.now();
        child.kill(signal);
      }
      return exited;
    },
  };
}

export interface HttpReply {
  status: number;
  contentType: string;
  body: string;
}

export function httpGet(address: string, path: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${address}${path}`, { agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${address}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The value of the sample `name{labels…}` (labels matched as a subset) in Prometheus text, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

/** Polls `read` until it returns a truthy value. */
export async function waitFor<T>(what: string, read: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
