// HTTP/2 receive windows sized to the link's round trip. A receiver lets its peer send a window of
// bytes ahead, and nghttp2 (node:http2) grants more only once half of it is used, so a transfer
// moves about half a window per round trip: an 8 MiB window carries 160 MiB/s at 50 ms, but only
// 27 MiB/s at 150 ms, a quarter of a 1 Gbit/s link. A fixed large window would cost its size in
// memory whenever the receiver is slower than the sender (a restore on a LAN feeding a slower
// import), so each connection measures its round trip (HTTP/2 PING, the lowest of the samples)
// and sizes its windows to it: WINDOW_RTT_FACTOR × what a link of WINDOW_LINK_BYTES_PER_SECOND
// carries in one round trip, between BASE_WINDOW_BYTES and MAX_WINDOW_BYTES. On a LAN the window
// stays at the base; at 150 ms it reaches ~45 MiB, the most a connection then holds unread.
//
// A server may share a budget among its connections (WindowBudget): a connection's window is then
// at most an equal share of the budget (never below the base), so many far peers at once cannot
// make the agent hold more than the budget unread, whatever each one's round trip.
//
// The storage agent tunes the sessions of its server (PutDisk's direction); a client tunes the
// sessions grpc-js opens, which it does not expose: installClientWindowTuning wraps node:http2's
// connect, which grpc-js calls for each connection (GetDisk's direction).
import http2, { type ClientHttp2Session, type Http2Session } from 'node:http2';

const MiB = 1024 * 1024;
/** The window before a round trip is measured, and on links whose round trip needs no more. */
export const BASE_WINDOW_BYTES = 8 * MiB;
/** The most a window grows to (and so the most one connection holds unread). */
export const MAX_WINDOW_BYTES = 64 * MiB;
/** The link rate the windows are sized for: 1 Gbit/s. */
export const WINDOW_LINK_BYTES_PER_SECOND = 125_000_000;
/** Windows per round trip: 2 for nghttp2's half-window updates, and a margin for the receiver's turns of the event loop. */
export const WINDOW_RTT_FACTOR = 2.5;
/** How often a connection measures its round trip again (and takes its share of a budget anew). */
export const PING_INTERVAL_MS = 10_000;

/** The receive window for a round trip of `rttMs`. */
export function windowForRtt(rttMs: number): number {
  const wanted = WINDOW_RTT_FACTOR * WINDOW_LINK_BYTES_PER_SECOND * (rttMs / 1000);
  return Math.round(Math.min(MAX_WINDOW_BYTES, Math.max(BASE_WINDOW_BYTES, wanted)));
}

/** Bytes of receive window a server's far connections share (those whose round trip wants more than the base). */
export class WindowBudget {
  readonly #sessions = new Set<Http2Session>();

  constructor(readonly totalBytes: number) {}

  /** Counts `session` until it closes; once is enough. */
  join(session: Http2Session): void {
    if (this.#sessions.has(session)) return;
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
  }

  /** The largest window one connection may have now. */
  share(): number {
    return Math.max(BASE_WINDOW_BYTES, Math.floor(this.totalBytes / Math.max(1, this.#sessions.size)));
  }
}

/**
 * Measures `session`'s round trip now and every PING_INTERVAL_MS while it is open, and sets its
 * stream and connection receive windows for the lowest round trip seen (the connection's at least
 * `minConnectionWindow`), within its share of `budget` when given. `onResize` hears each change.
 */
export function tuneReceiveWindows(
  session: Http2Session,
  options: { minConnectionWindow?: number; budget?: WindowBudget; intervalMs?: number; onResize?: (window: number, rttMs: number) => void } = {},
): void {
  let lowest = Infinity;
  let applied = BASE_WINDOW_BYTES;
  const gone = (): boolean => session.destroyed || session.closed;
  const measure = (): void => {
    if (gone()) return clearInterval(timer);
    try {
      session.ping((error, rttMs) => {
        if (error || gone()) return;
        lowest = Math.min(lowest, rttMs);
        const wanted = windowForRtt(lowest);
        if (wanted > BASE_WINDOW_BYTES) options.budget?.join(session);
        const window = Math.min(wanted, options.budget?.share() ?? Infinity);
        if (window === applied) return;
        try {
          session.settings({ initialWindowSize: window });
          session.setLocalWindowSize(Math.max(window, options.minConnectionWindow ?? 0));
          applied = window;
          options.onResize?.(window, lowest);
        } catch {
          // The session closed or has settings still unacknowledged: the next measure tries again.
        }
      });
    } catch {
      // Too many pings outstanding (a link stalled longer than the interval) or the session is closing.
    }
  };
  const timer = setInterval(measure, options.intervalMs ?? PING_INTERVAL_MS).unref();
  measure();
}

let clientTuning = false;

/**
 * From now on, every HTTP/2 client session of this process (grpc-js's connections) tunes its
 * receive windows once the server's settings have come. Idempotent.
 */
export function installClientWindowTuning(): void {
  if (clientTuning) return;
  clientTuning = true;
  const connect = http2.connect;
  const tuned = ((...args: Parameters<typeof http2.connect>): ClientHttp2Session => {
    const session = connect(...args);
    // Registered before grpc-js's own listeners, which it removes once the settings have come.
    session.once('remoteSettings', () => tuneReceiveWindows(session));
    return session;
  }) as typeof http2.connect;
  http2.connect = tuned;
}
