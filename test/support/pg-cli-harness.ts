// Runs the coordinator's CLI commands in-process against a control API served on a local socket
// (in a temporary folder) by the real gRPC server over a real (per-test) Postgres catalogue: what a command prints and the
// exit code it sets are captured. Commander's own output (help, usage errors) is captured too.
import { Command, CommanderError } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomIds } from '../../coordinator/tasks/index.js';
import { DEFAULT_TASK_LIMITS } from '../../coordinator/lifecycle/index.js';
import { startControlServer, type ControlServer } from '../../coordinator/api/control-server.js';
import type { ControlContext } from '../../coordinator/api/control-context.js';
import { registerCoordinatorCommands } from '../../coordinator/cli/index.js';
import { createLogger } from '../../shared/logging/index.js';
import { createTestDatabase, type TestDatabase } from './pg-database.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export interface CliHarness {
  db: TestDatabase;
  server: ControlServer;
  /** The control socket's path. */
  address: string;
  context: ControlContext;
  /** Counts of hook calls (scheduler / dispatcher wake-ups). */
  wakes: { policies: number; tasks: number };
  cli(...args: string[]): Promise<CliResult>;
  close(): Promise<void>;
}

export async function startCliHarness(): Promise<CliHarness> {
  const db = await createTestDatabase();
  const wakes = { policies: 0, tasks: 0 };
  const context: ControlContext = {
    sql: db.sql,
    clock: () => new Date(),
    ids: randomIds,
    limits: DEFAULT_TASK_LIMITS,
    hooks: { policiesChanged: () => void wakes.policies++, tasksQueued: () => void wakes.tasks++ },
    watchIntervalMs: 40,
  };
  const folder = await mkdtemp(join(tmpdir(), 'dc-cli-'));
  const address = join(folder, 'coordinator.sock');
  const server = await startControlServer(context, [{ kind: 'socket', path: address }], createLogger({ level: 'silent' }));
  const cli = async (...args: string[]): Promise<CliResult> => {
    let out = '';
    let err = '';
    const program = new Command('deltachain').exitOverride().configureOutput({ writeOut: (s) => void (out += s), writeErr: (s) => void (err += s) });
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s), isTTY: false, columns: 120, env: { DELTACHAIN_SOCKET: address } };
    registerCoordinatorCommands(program, io);
    const saved = process.exitCode;
    process.exitCode = undefined;
    let code = 0;
    try {
      await program.parseAsync(['node', 'deltachain', ...args]);
      code = typeof process.exitCode === 'number' ? process.exitCode : 0;
    } catch (error) {
      if (!(error instanceof CommanderError)) throw error;
      code = error.exitCode;
    } finally {
      process.exitCode = saved;
    }
    return { code, out, err };
  };
  return {
    db,
    server,
    address,
    context,
    wakes,
    cli,
    async close() {
      await server.close(100);
      await db.drop();
      await rm(folder, { recursive: true, force: true });
    },
  };
}
