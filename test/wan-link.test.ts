// The emulated WAN link (test/support/wan-link.ts) with two connections sharing one wire: one
// whose receiver does not read for 2 s (its sender is paused until the receiver drains), the
// other keeping the shared queue full. Every byte of both must arrive: a sender whose drain comes
// while the other connection fills the wire must still be resumed, or a connection of the
// three-site test bed (a NATS route: every JetStream request of a site then times out) freezes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { startWanLink, type WanLink } from './support/wan-link.js';

const MiB = 1024 * 1024;

/** A server that counts what it reads; each connection's reading starts after `holdMs`. */
async function countingServer(holdMs: number): Promise<{ server: Server; port: number; received: () => number }> {
  let received = 0;
  const server = createServer((socket: Socket) => {
    socket.on('error', () => {});
    socket.on('data', (b: Buffer) => void (received += b.length));
    if (holdMs > 0) {
      socket.pause();
      setTimeout(() => socket.resume(), holdMs);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, received: () => received };
}

async function send(port: number, bytes: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const piece = Buffer.alloc(256 * 1024, 1);
  for (let sent = 0; sent < bytes; sent += piece.length) if (!socket.write(piece)) await once(socket, 'drain');
  socket.end();
}

const servers: Server[] = [];
const links: WanLink[] = [];
after(async () => {
  for (const link of links) await link.close();
  for (const server of servers) server.close();
});

test('two connections on one wire: a sender paused by its receiver resumes while the other keeps the queue full, and every byte arrives', { timeout: 60_000 }, async () => {
  const shape = { delayMs: 1, bytesPerSecond: 40 * MiB, queueBytes: 16 * 1024 };
  const wires = { up: { freeAt: 0 }, down: { freeAt: 0 } };
  const slow = await countingServer(2000);
  const busy = await countingServer(0);
  servers.push(slow.server, busy.server);
  const slowLink = await startWanLink({ host: '127.0.0.1', port: slow.port }, shape, { wires });
  const busyLink = await startWanLink({ host: '127.0.0.1', port: busy.port }, shape, { wires });
  links.push(slowLink, busyLink);
  const [slowBytes, busyBytes] = [32 * MiB, 200 * MiB];
  // Not awaited: a sender left paused for good never finishes; the counts below say so in time.
  void send(slowLink.port, slowBytes).catch(() => undefined);
  void send(busyLink.port, busyBytes).catch(() => undefined);
  const deadline = Date.now() + 25_000;
  while ((slow.received() < slowBytes || busy.received() < busyBytes) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(busy.received(), busyBytes, 'the connection keeping the wire busy delivered everything');
  assert.equal(slow.received(), slowBytes, 'the connection whose receiver paused delivered everything too (it was not left paused)');
});
