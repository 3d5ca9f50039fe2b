// Exact-length reads from a byte stream (a socket, plain or TLS): the NBD client reads a header,
// learns the length of what follows, and reads that. Buffering is bounded: above `highWater`
// bytes the stream is paused until the reader catches up, so a fast server cannot fill memory.
import type { Duplex } from 'node:stream';

export class ByteQueue {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: { length: number; resolve: (data: Buffer) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer): void => this.push(chunk);
  private readonly onEnd = (): void => this.fail(new Error('the server closed the connection'));
  private readonly onError = (error: Error): void => this.fail(error);

  constructor(
    private readonly stream: Duplex,
    private readonly highWater: number,
  ) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The next `length` bytes; rejects when the stream ends or fails first. One read at a time. */
  read(length: number): Promise<Buffer> {
    if (this.waiter) return Promise.reject(new Error('ByteQueue: one read at a time'));
    if (this.buffered >= length) return Promise.resolve(this.take(length));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { length, resolve, reject };
      if (this.stream.isPaused()) this.stream.resume();
    });
  }

  /** Stops listening, leaving the stream to a new owner (the TLS upgrade); nothing may be buffered. */
  detach(): void {
    if (this.buffered > 0) throw new Error('ByteQueue: bytes left over at detach');
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    this.stream.pause();
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const waiter = this.waiter;
    if (waiter && this.buffered >= waiter.length) {
      this.waiter = undefined;
      waiter.resolve(this.take(waiter.length));
    }
    if (this.buffered > this.highWater && !this.waiter) this.stream.pause();
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  private take(length: number): Buffer {
    this.buffered -= length;
    const first = this.chunks[0]!;
    if (first.length >= length) {
      if (first.length === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
      this.resumeIfLow();
      return first.subarray(0, length);
    }
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.length, length - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    this.resumeIfLow();
    return out;
  }

  private resumeIfLow(): void {
    if (this.buffered <= this.highWater && this.stream.isPaused() && !this.failure) this.stream.resume();
  }
}
