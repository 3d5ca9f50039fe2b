// The control API's port for the lab: the CLI's default (7100) when it is free, so the CLI
// works without flags; otherwise 0 (a free port, which the lab then prints).
import { createServer } from 'node:net';

export function freePortOr(port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(0));
    server.listen(port, host, () => server.close(() => resolve(port)));
  });
}
