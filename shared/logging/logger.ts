// One root logger per process (pino, JSON lines). When stdout is a terminal the lines are
// rendered for humans by pino-pretty in-process (no worker thread). Modules take a child with
// `{component}`; tasks take a child bound to `{taskId, vm, disk}`. Fixed messages, data in fields,
// never a secret: the redaction list below is a safety net, not the policy.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  level?: LogLevel;
  /** Human-readable output; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go; defaults to stdout. Tests pass their own stream. */
  destination?: NodeJS.WritableStream;
}

const REDACT_PATHS = [
  'password',
  '*.password',
  'auth.password',
  '*.auth.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'key',
  '*.key',
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const base = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  const wantPretty = options.pretty ?? Boolean(process.stdout.isTTY);
  if (wantPretty) {
    const stream = pretty({
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      destination: (options.destination ?? process.stdout) as NodeJS.WritableStream & { write: (s: string) => boolean },
    });
    return pino(base, stream);
  }
  if (options.destination) {
    return pino(base, options.destination as pino.DestinationStream);
  }
  return pino(base);
}
