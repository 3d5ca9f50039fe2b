// An emulated WAN link for tests and benchmarks: a TCP proxy that carries each direction of every
// connection through a model of one link — a rate (bytes per second, serialized one after the
// other as on a wire), a fixed one-way delay, and a bounded queue in front of the wire. The kernel
// here has no netem, so the delay is ours; a real link's loss and jitter are not modelled.
//
// What a connection through it sees: the link's rate, and every byte arriving `delayMs` after it
// left the wire, so a protocol that waits for a reply (an HTTP/2 WINDOW_UPDATE, an acknowledgement)
// waits a full round trip. Between the proxy and the two ends TCP runs on loopback, so TCP's own
// windows never limit: what limits a transfer is the link and the application's windows, as on a
// WAN with tuned TCP buffers. Memory: per direction at most `queueBytes` waiting for the wire plus
// what is on the wire (rate × delay); a full queue pauses the sender's socket (TCP backpressure),
// and so does a receiver that does not read.
//
// Several proxies may model one link (test/support/site-net.ts: one proxy per service a site
// reaches over it): they are given the same `wires`, so every connection of every one of them
// shares each direction's rate and queue, as on one wire. Without `wires` each connection has a
// wire of its own each way. A proxy that picks the link per connection (site-net.ts's service
// proxies, one address for clients of every site) hands each accepted socket to carryConnection.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface LinkShape {
  /** One-way delay, milliseconds (RTT = 2 × this). */
  delayMs: number;
  /** Bytes per second the wire carries, each way. */
  bytesPerSecond: number;
  /** Bytes that may wait for the wire before the sender is paused (default: 20 ms of the rate, at least 256 KiB). */
  queueBytes?: number;
}

/** A link from megabits per second and a round-trip time. */
export function linkShape(megabits: number, rttMs: number): LinkShape {
  return { delayMs: rttMs / 2, bytesPerSecond: (megabits * 1e6) / 8 };
}

/** One direction of a link: when the wire has serialized everything given to it (monotonic ms). */
export interface Wire {
  freeAt: number;
}

export interface WanLinkOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** The wire each way (client → target, target → client), shared with every proxy given the same; default: a wire of its own per connection. */
  wires?: { up: Wire; down: Wire };
  /** Whether to take a new connection (default: every one); one refused is reset at once. */
  admits?: (client: Socket) => boolean;
  /** While true the link is silent: nothing is delivered either way, nothing is closed (a failed link sends no reset). */
  stalled?: () => boolean;
}

export interface WanLink {
  port: number;
  /** Bytes carried so far, each way (client → target, target → client), over every connection. */
  carried(): { up: number; down: number };
  /** Cuts every open connection (both sockets destroyed); new connections still pass. */
  cut(): void;
  close(): Promise<void>;
}

/** What one accepted connection is carried over: the link's shape, its wires, its counters. */
export interface LinkCarrier {
  shape: LinkShape;
  /** The wire each way (client → target, target → client); shared by every connection given the same. */
  wires: { up: Wire; down: Wire };
  /** Bytes delivered so far each way, added to as they arrive at the far end. */
  totals: { up: number; down: number };
  /** The connection's two sockets are kept here while open (what a cut destroys). */
  open: Set<Socket>;
  /** While true nothing is delivered either way and nothing is closed (a link gone silent). */
  stalled?: () => boolean;
}

/**
 * Carries an accepted `client` socket to `target` through `carrier`: a proxy that decides per
 * connection which link it crosses (site-net.ts's service proxies) hands each socket here.
 */
export function carryConnection(client: Socket, target: { host: string; port: number }, carrier: LinkCarrier): void {
  const upstream = connect({ port: target.port, host: target.host, allowHalfOpen: true });
  carrier.open.add(client).add(upstream);
  const reset = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', reset).on('close', () => carrier.open.delete(client));
  upstream.on('error', reset).on('close', () => carrier.open.delete(upstream));
  const stalled = carrier.stalled ?? (() => false);
  carry(client, upstream, carrier.shape, (n) => (carrier.totals.up += n), carrier.wires.up, stalled);
  carry(upstream, client, carrier.shape, (n) => (carrier.totals.down += n), carrier.wires.down, stalled);
}

/** Destroys every socket of `open`. */
export function cutAll(open: Set<Socket>): void {
  for (const socket of open) socket.destroy();
  open.clear();
}

/** Starts a proxy on 127.0.0.1 (or `options.host`; a free port) carrying connections to `target` through a link of `shape`. */
export async function startWanLink(target: { host: string; port: number }, shape: LinkShape, options: WanLinkOptions = {}): Promise<WanLink> {
  const totals = { up: 0, down: 0 };
  const open = new Set<Socket>();
  // Half-open on both sides: an end passes through the link after the bytes before it, and the
  // other direction keeps flowing (a sink's reply after the sender's end).
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    if (options.admits !== undefined && !options.admits(client)) {
      client.on('error', () => {}).resetAndDestroy();
      return;
    }
    carryConnection(client, target, { shape, wires: options.wires ?? { up: { freeAt: 0 }, down: { freeAt: 0 } }, totals, open, ...(options.stalled && { stalled: options.stalled }) });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, options.host ?? '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('WAN link: no port');
  return {
    port: address.port,
    carried: () => ({ ...totals }),
    cut: () => cutAll(open),
    close: () =>
      new Promise<void>((resolve) => {
        cutAll(open);
        server.close(() => resolve());
      }),
  };
}

interface InFlight {
  chunk: Buffer;
  /** When its last byte arrives at the far end (monotonic ms). */
  at: number;
}

/** How often a silent link looks whether it is back, ms. */
const STALL_POLL_MS = 50;

/**
 * One direction: `from` → link → `to`. An end closing is passed on after the bytes before it.
 * While `stalled()`, nothing is delivered and `from` stays paused (what waits is bounded by the
 * queue); then delivery goes on where it stopped.
 */
function carry(from: Socket, to: Socket, shape: LinkShape, count: (bytes: number) => void, wire: Wire, stalled: () => boolean): void {
  const rate = shape.bytesPerSecond / 1000; // bytes per ms
  const queueLimit = shape.queueBytes ?? Math.max(256 * 1024, rate * 20);
  const flight: InFlight[] = [];
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  let waitingForDrain = false;
  const now = (): number => performance.now();
  const queued = (): number => Math.max(0, wire.freeAt - now()) * rate;

  const deliver = (): void => {
    timer = undefined;
    if (stalled()) {
      timer = setTimeout(deliver, STALL_POLL_MS);
      return;
    }
    const t = now();
    while (flight.length > 0 && flight[0]!.at <= t && !waitingForDrain) {
      const { chunk } = flight.shift()!;
      count(chunk.length);
      if (!to.write(chunk)) {
        waitingForDrain = true;
        to.once('drain', () => {
          waitingForDrain = false;
          deliver();
        });
      }
    }
    if (flight.length === 0 && ended) {
      to.end();
      return;
    }
    schedule();
    resumeIfRoom();
  };
  const schedule = (): void => {
    if (timer !== undefined || waitingForDrain || flight.length === 0) return;
    timer = setTimeout(deliver, Math.max(0, flight[0]!.at - now()));
  };
  // `from` is paused while the wire's queue is full (shared by every connection of the link), while
  // `to` has not drained, or while the link is silent. Every pause leaves a way back: a drain runs
  // `deliver`, which ends in `resumeIfRoom`; otherwise a timer looks again when the queue should
  // have room, or the link may be back — also after a drain that found the shared queue full.
  let resumeTimer: NodeJS.Timeout | undefined;
  const resumeIfRoom = (): void => {
    clearTimeout(resumeTimer);
    resumeTimer = undefined;
    if (!from.isPaused() || from.destroyed || waitingForDrain) return;
    if (stalled()) {
      resumeTimer = setTimeout(resumeIfRoom, STALL_POLL_MS);
      return;
    }
    const over = queued() - queueLimit;
    if (over < 0) from.resume();
    else resumeTimer = setTimeout(resumeIfRoom, Math.max(1, (over + queueLimit / 2) / rate));
  };
  from.on('data', (chunk: Buffer) => {
    const t = now();
    wire.freeAt = Math.max(wire.freeAt, t) + chunk.length / rate;
    flight.push({ chunk, at: wire.freeAt + shape.delayMs });
    schedule();
    if (stalled() || queued() >= queueLimit || waitingForDrain) {
      from.pause();
      resumeIfRoom();
    }
  });
  from.on('end', () => {
    ended = true;
    if (flight.length === 0 && timer === undefined) {
      if (stalled()) timer = setTimeout(deliver, STALL_POLL_MS);
      else to.end();
    }
  });
  from.on('close', () => clearTimeout(resumeTimer));
}
