// Small helpers for the lab's HTTP handlers: plain replies, and the headers of streamed bodies
// without a Content-Length, as XAPI sends them.
import type { ServerResponse } from 'node:http';

export function replyText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.end(text);
}

export function replyJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * How a streamed body is framed. Real XAPI ends export bodies by closing the connection
 * (`close`); undici 6.29 (the xen-api client's HTTP stack) can crash with an uncatchable
 * `assert(!this.paused)` when such a connection closes while the body is paused by backpressure
 * (nodejs/undici#5360). `chunked` (the default) keeps the connection open and ends the body with
 * the last chunk: the same bytes, the same "stream ends without a length" semantics for clients.
 */
export type BodyFraming = 'chunked' | 'close';

/** 200 headers of a body of unknown length. */
export function startStreamBody(res: ServerResponse, headers: Record<string, string>, framing: BodyFraming = 'close'): void {
  if (framing === 'close') {
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
  }
  res.writeHead(200, { ...headers, ...(framing === 'close' ? { connection: 'close' } : {}), 'cache-control': 'no-cache, no-store' });
  res.flushHeaders();
}
