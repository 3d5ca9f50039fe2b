// Small helpers for the lab's HTTP handlers: plain replies, and headers for XAPI-style bodies
// that end when the connection closes (no Content-Length, no chunked encoding) — a cut stream
// then looks like a clean end, as it does with a real pool.
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

/** 200 headers of a close-delimited body. */
export function startCloseDelimited(res: ServerResponse, headers: Record<string, string>): void {
  res.useChunkedEncodingByDefault = false;
  res.shouldKeepAlive = false;
  res.writeHead(200, { ...headers, connection: 'close', 'cache-control': 'no-cache, no-store' });
  res.flushHeaders();
}
