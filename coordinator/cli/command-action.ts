// The shell every control-API command runs in: parse the connection options, connect, run the
// command's body, close the connection; failures are printed once, on stderr, with what to do,
// and turned into an exit code (exit-codes.ts). The body returns its exit code (default 0).
// Nothing heavy is imported until a command runs, so `deltachain --help` stays quick.
import type { Command } from 'commander';
import { DeltachainError } from '../../shared/errors.js';
import type { ControlClient } from '../api/control-client.js';
import type { CliIo } from './cli-io.js';
import type { ConnectionOptions } from './connect-control.js';
import { EXIT } from './exit-codes.js';

export interface CommandContext<O> {
  /** Connected when first used: a command that needs no coordinator (nats-config --pool) never connects. */
  readonly client: ControlClient;
  options: O & ConnectionOptions & { json?: boolean };
  io: CliIo;
}

/** Adds the connection options every control-API command takes. */
export function withConnection(command: Command): Command {
  return command
    .option('--socket <path>', "the coordinator's local socket (default $DELTACHAIN_SOCKET or /run/deltachain/coordinator.sock)")
    .option('--api <host:port>', 'the control API over TCP with mutual TLS (default $DELTACHAIN_API)')
    .option('--ca <file>', 'CA certificate to check the coordinator with (PEM; $DELTACHAIN_CA)')
    .option('--cert <file>', "an operator's or viewer's certificate (PEM; $DELTACHAIN_CERT)")
    .option('--key <file>', 'its private key (PEM; $DELTACHAIN_KEY)')
    .option('--insecure', 'talk to a coordinator serving plaintext TCP (api.tls.insecure)');
}

export function exitCodeFor(error: unknown): number {
  const code = (error as DeltachainError).code;
  if (code === 'COORDINATOR_UNAVAILABLE' || code === 'COORDINATOR_TIMEOUT' || code === 'CATALOG_UNAVAILABLE') return EXIT.UNAVAILABLE;
  if (code === 'NOT_FOUND') return EXIT.NOT_FOUND;
  if (code === 'PERMISSION_DENIED' || code === 'UNAUTHENTICATED' || code === 'COORDINATOR_FORBIDDEN') return EXIT.NOT_ALLOWED;
  return EXIT.FAILED;
}

export function commandAction<A extends unknown[], O>(io: CliIo, body: (ctx: CommandContext<O>, ...args: A) => Promise<number | void>) {
  return async (...received: unknown[]): Promise<void> => {
    const command = received[received.length - 1] as Command;
    const options = command.opts() as O & ConnectionOptions & { json?: boolean };
    const args = received.slice(0, -2) as A;
    let client: ControlClient | undefined;
    try {
      // Loaded when a command runs: gRPC and the generated code are most of the CLI's start-up.
      const { connectControl } = await import('./connect-control.js');
      const context: CommandContext<O> = {
        get client() {
          return (client ??= connectControl(options, io));
        },
        options,
        io,
      };
      process.exitCode = (await body(context, ...args)) ?? EXIT.OK;
    } catch (error) {
      if (!(error instanceof DeltachainError)) throw error;
      io.err(`deltachain: ${error.message}\n`);
      process.exitCode = exitCodeFor(error);
    } finally {
      client?.close();
    }
  };
}

/** Prints a value as JSON (the --json form of every command). */
export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2) + '\n');
}
