// Runs the coordinator's CLI commands in-process against a control API served on loopback by
// the real gRPC server over a real (per-test) Postgres catalogue: what a command prints and the
// exit code it sets are captured. Commander's own output (help, usage errors) is captured too.
import { Command, CommanderError } from 'commander';
import { ServerCredentials } from '@grpc/grpc-js';
import { randomIds } from '../../coordinator/scheduler/index.js';
import { DEFAULT_TASK_LIMITS } from '../../coordinator/lifecycle/index.js';
import { startControlServer, type ControlServer } from '../../coordinator/api/control-server.js';
import type { ControlContext } from '../../coordinator/api/control-context.js';
import { registerCoordinatorCommands } from '../../coordinator/cli/index.js';
import { createTestDatabase, type TestDatabase } from './pg-database.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export interface CliHarness {
  db: TestDatabase;
  server: ControlServer;
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
  const server = await startControlServer(context, '127.0.0.1:0', ServerCredentials.createInsecure());
  const address = `127.0.0.1:${server.port}`;
  const cli = async (...args: string[]): Promise<CliResult> => {
    let out = '';
    let err = '';
    const program = new Command('deltachain').exitOverride().configureOutput({ writeOut: (s) => void (out += s), writeErr: (s) => void (err += s) });
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s), isTTY: false, columns: 120, env: { DELTACHAIN_COORDINATOR: address } };
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
    },
  };
}
