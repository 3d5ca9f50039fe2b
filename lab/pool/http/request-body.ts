// Reads an HTTP request body as chunks, paced by the slowStreams fault. A connection that closes
// before Content-Length bytes arrived ends the iteration quietly (and sets `premature`): the
// xen-api client sends streams without a length as a 1 PiB Content-Length and cuts the socket
// after the body, so only the content (a VHD's trailing footer, a raw length) can tell a complete
// upload from a cut one.
import type { IncomingMessage } from 'node:http';
import { Throttle } from './throttle.js';

export class RequestBody implements AsyncIterable<Buffer> {
  bytes = 0;
  premature = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly rate: () => number | undefined,
    private readonly signal: AbortSignal,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const throttle = new Throttle(this.rate);
    try {
      for await (const chunk of this.req) {
        this.signal.throwIfAborted();
        this.bytes += (chunk as Buffer).length;
        yield chunk as Buffer;
        await throttle.pass((chunk as Buffer).length, this.signal);
      }
    } catch (error) {
      if (!isConnectionCut(error)) throw error;
      this.premature = true;
    }
    if (this.req.readableAborted || !this.req.complete) this.premature = true;
  }
}

function isConnectionCut(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error)?.message === 'aborted';
}
