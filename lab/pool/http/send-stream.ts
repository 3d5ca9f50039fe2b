// Writes a stream of chunks to an HTTP response, an optional byte limit (where an injected fault
// cuts the stream), pacing, progress, and cancellation. Each chunk is written out (its write's
// callback called: the socket took it) before the next is asked for, so a producer may reuse its
// buffers. Fails with ClientGoneError when the client closes the connection first.
import type { ServerResponse } from 'node:http';
import { Throttle } from './throttle.js';

export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
  constructor() {
    super('the client closed the connection');
  }
}

export interface SendStreamOptions {
  /** Stop after exactly this many bytes. */
  limit?: number;
  /** Bytes per second, read per chunk (undefined: full speed). */
  rate?: () => number | undefined;
  signal: AbortSignal;
  onProgress?: (bytes: number) => void;
}

export interface SendStreamResult {
  bytes: number;
  /** True when the limit stopped the stream early. */
  cut: boolean;
}

export async function sendStream(res: ServerResponse, chunks: AsyncIterable<Buffer>, options: SendStreamOptions): Promise<SendStreamResult> {
  const throttle = new Throttle(options.rate ?? (() => undefined));
  let bytes = 0;
  for await (let chunk of chunks) {
    options.signal.throwIfAborted();
    if (res.destroyed || res.writableEnded) throw new ClientGoneError();
    let cut = false;
    if (options.limit !== undefined && bytes + chunk.length >= options.limit) {
      chunk = chunk.subarray(0, options.limit - bytes);
      cut = true;
    }
    bytes += chunk.length;
    if (chunk.length > 0) await written(res, chunk, options.signal);
    options.onProgress?.(bytes);
    if (cut) return { bytes, cut };
    await throttle.pass(chunk.length, options.signal);
  }
  return { bytes, cut: false };
}

/** Writes `chunk`; resolves once the response has handed it to the socket. */
function written(res: ServerResponse, chunk: Buffer, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      res.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onWritten = (error?: Error | null): void => {
      cleanup();
      if (error) reject(res.destroyed ? new ClientGoneError() : error);
      else resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new ClientGoneError());
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason);
    };
    res.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    res.write(chunk, onWritten);
  });
}
