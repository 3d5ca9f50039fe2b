// A loopback TCP relay that adds a fixed delay each way (half the round trip), run as its own
// process so its CPU is not counted as the client's: `node --import tsx delay-relay.ts TARGET_PORT RTT_MS`,
// prints the port it listens on. Latency without touching the machine's loopback (tc netem would
// slow every other service on it).
import { connect, createServer, type Socket } from 'node:net';

const [targetPort, rttMs] = process.argv.slice(2).map(Number);
const oneWay = rttMs! / 2;

function forward(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => setTimeout(() => to.write(chunk), oneWay));
  from.on('close', () => setTimeout(() => to.destroy(), oneWay));
  from.on('error', () => to.destroy());
}

const server = createServer((client) => {
  client.setNoDelay(true);
  const upstream = connect({ host: '127.0.0.1', port: targetPort!, noDelay: true });
  forward(client, upstream);
  forward(upstream, client);
});
server.listen(0, '127.0.0.1', () => console.log((server.address() as { port: number }).port));
