// HTTP/2 receive windows sized to the round trip (shared/grpc/http2-windows.ts), over a real
// emulated WAN link (test/support/wan-link.ts) and directly on loopback: the storage agent's server
// grows its windows for a 150 ms link and keeps the base on loopback, and a client session opened
// after installClientWindowTuning (as grpc-js opens them) does the same for what it receives.
import assert from 'node:assert/strict';
import http2, { connect, createServer, type ClientHttp2Session, type ServerHttp2Session, type Settings } from 'node:http2';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { BASE_WINDOW_BYTES, MAX_WINDOW_BYTES, WindowBudget, installClientWindowTuning, tuneReceiveWindows, windowForRtt } from '../shared/grpc/http2-windows.js';
import { startStorageServer, type StorageServer } from '../agent/storage/storage-server.js';
import { tempRemoteRoot, testContext } from './support/storage-harness.js';
import { linkShape, startWanLink, type WanLink } from './support/wan-link.js';

/** The next SETTINGS frame from the peer whose initial window differs from `than`. */
function nextWindow(session: ClientHttp2Session | ServerHttp2Session, than: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no new window within 5 s')), 5000);
    const onSettings = (settings: Settings): void => {
      if (settings.initialWindowSize === undefined || settings.initialWindowSize === than) return;
      clearTimeout(timer);
      session.off('remoteSettings', onSettings);
      resolve(settings.initialWindowSize);
    };
    session.on('remoteSettings', onSettings);
    session.once('close', () => {
      clearTimeout(timer);
      reject(new Error('session closed before a new window'));
    });
  });
}

describe('HTTP/2 windows sized to the round trip', () => {
  test('windowForRtt: the base on a LAN, 2.5 round trips of 1 Gbit/s far away, capped', () => {
    assert.equal(windowForRtt(0.2), BASE_WINDOW_BYTES);
    assert.equal(windowForRtt(50), Math.round(2.5 * 125_000_000 * 0.05));
    assert.equal(windowForRtt(1000), MAX_WINDOW_BYTES);
  });

  describe('storage agent', () => {
    let root: string;
    let server: StorageServer;
    let link: WanLink;
    before(async () => {
      root = await tempRemoteRoot();
      const ctx = testContext(root);
      await ctx.layout.ensure();
      server = await startStorageServer(ctx, { host: '127.0.0.1', port: 0 }, { insecure: true });
      link = await startWanLink({ host: '127.0.0.1', port: server.port }, linkShape(1000, 150));
    });
    after(async () => {
      await link.close();
      await server.close();
      await rm(root, { recursive: true, force: true });
    });

    test('across a 150 ms link it offers a window for that round trip', async () => {
      const session = connect(`http://127.0.0.1:${link.port}`);
      try {
        const window = await nextWindow(session, BASE_WINDOW_BYTES);
        assert.ok(window >= windowForRtt(150) && window <= MAX_WINDOW_BYTES, `window ${window}`);
        // The connection's window follows (a WINDOW_UPDATE after the SETTINGS; a ping comes back after both).
        await new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));
        assert.ok(session.state.remoteWindowSize! >= windowForRtt(150) - 1024 * 1024, `connection window ${session.state.remoteWindowSize}`);
      } finally {
        session.destroy();
      }
    });

    test('on loopback it keeps a window for a short round trip', async () => {
      const session = connect(`http://127.0.0.1:${server.port}`);
      let offered = BASE_WINDOW_BYTES;
      session.on('remoteSettings', (settings) => (offered = settings.initialWindowSize ?? offered));
      try {
        await new Promise((resolve) => session.once('connect', resolve));
        // Its first round trip is measured at once; give it a few. A loaded machine may answer a
        // loopback PING late (tens of ms: a slightly larger window), never as late as a WAN.
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.ok(offered < windowForRtt(100), `window ${offered} on loopback`);
      } finally {
        session.destroy();
      }
    });
  });

  test('a client session opened after installClientWindowTuning widens what it receives across the link', async () => {
    installClientWindowTuning();
    const sessions: ServerHttp2Session[] = [];
    const h2 = createServer();
    h2.on('session', (session) => sessions.push(session));
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const port = (h2.address() as { port: number }).port;
    const link = await startWanLink({ host: '127.0.0.1', port }, linkShape(1000, 150));
    // Through the module object, as grpc-js (CommonJS) calls it.
    const client = http2.connect(`http://127.0.0.1:${link.port}`);
    try {
      await new Promise((resolve) => client.once('connect', resolve));
      while (sessions.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const window = await nextWindow(sessions[0]!, 65_535);
      assert.ok(window >= windowForRtt(150), `window ${window}`);
    } finally {
      client.destroy();
      await link.close();
      await new Promise((resolve) => h2.close(resolve));
    }
  });
});

test('far connections share a budget: three at 150 ms under 30 MiB get 10 MiB each, once each has measured again', async () => {
  const MiB = 1024 * 1024;
  const budget = new WindowBudget(30 * MiB);
  const h2 = createServer();
  h2.on('session', (session) => tuneReceiveWindows(session, { budget, intervalMs: 400 }));
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  const link = await startWanLink({ host: '127.0.0.1', port: (h2.address() as { port: number }).port }, linkShape(1000, 150));
  const clients = [0, 1, 2].map(() => connect(`http://127.0.0.1:${link.port}`));
  const offered = clients.map(() => 0);
  clients.forEach((client, i) => client.on('remoteSettings', (settings) => (offered[i] = settings.initialWindowSize ?? offered[i]!)));
  try {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !offered.every((w) => w === 10 * MiB)) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(offered, [10 * MiB, 10 * MiB, 10 * MiB], 'each far connection ends at its third of the budget');
    assert.ok(windowForRtt(150) > 10 * MiB, 'alone, each would have had more');
  } finally {
    for (const client of clients) client.destroy();
    await link.close();
    await new Promise((resolve) => h2.close(resolve));
  }
});

describe('emulated WAN link', () => {
  test('a reply takes a round trip, and bytes pass at the link rate', async () => {
    const echo = createServer({ settings: { initialWindowSize: 16 * 1024 * 1024 } });
    echo.on('session', (session) => session.setLocalWindowSize(16 * 1024 * 1024));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const port = (echo.address() as { port: number }).port;
    echo.on('stream', (stream) => {
      let bytes = 0;
      stream.on('data', (d: Buffer) => (bytes += d.length));
      stream.on('end', () => stream.respond({ ':status': 200, 'x-bytes': String(bytes) }, { endStream: true }));
    });
    const link = await startWanLink({ host: '127.0.0.1', port }, linkShape(100, 100));
    const client = connect(`http://127.0.0.1:${link.port}`);
    try {
      await new Promise((resolve) => client.once('connect', resolve));
      const started = performance.now();
      await new Promise<void>((resolve, reject) => client.ping((error) => (error ? reject(error) : resolve())));
      const rtt = performance.now() - started;
      assert.ok(rtt >= 100 && rtt < 250, `ping ${rtt.toFixed(0)} ms`);
      const size = 2 * 1024 * 1024; // 168 ms at 100 Mbit/s; within the server's 64 KiB windows it would take 32 round trips
      const t0 = performance.now();
      const request = client.request({ ':method': 'POST' });
      request.end(Buffer.alloc(size, 1));
      const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve) => request.once('response', resolve));
      request.resume();
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(Number(headers['x-bytes']), size);
      const floor = size / linkShape(100, 100).bytesPerSecond + 0.1;
      assert.ok(seconds >= floor * 0.95, `2 MiB in ${seconds.toFixed(3)} s: faster than the link allows (${floor.toFixed(3)} s)`);
      assert.ok(seconds < floor + 0.5, `2 MiB in ${seconds.toFixed(3)} s: the link stalls (${floor.toFixed(3)} s expected)`);
      assert.deepEqual(link.carried().up >= size, true);
    } finally {
      client.destroy();
      await link.close();
      await new Promise((resolve) => echo.close(resolve));
    }
  });
});
