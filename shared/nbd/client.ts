// One NBD connection, client side: the handshake (handshake.ts), then pipelined reads: many
// requests in flight, replies matched by cookie, at most `maxInFlightBytes` asked and not yet
// handed over. Every length that comes from the wire is checked before memory is spent on it: a
// simple reply's payload is the length this side asked for (it carries none of its own), a
// structured chunk is bounded by its request (structured-reply.ts).
import { connect as connectTcp, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ByteQueue } from './byte-queue.js';
import { handshake, type NbdExport, type NbdTlsOptions, type Session } from './handshake.js';
import { NbdError, classifyNbdFailure } from './nbd-error.js';
import * as wire from './protocol.js';
import { finishReply, readChunk, type AllocationExtent, type ReplyAssembly } from './structured-reply.js';

export interface NbdConnectOptions {
  host: string;
  port: number;
  exportName: string;
  /** Absent: plaintext, and a server that insists on TLS is refused with NBD_TLS_REQUIRED. */
  tls?: NbdTlsOptions;
  /** Ask for base:allocation (structured replies), so that blockStatus works where the server offers it. */
  blockStatus?: boolean;
  /** Milliseconds for the connection and handshake, and the longest silence while replies are due. Default 30 000. */
  timeoutMs?: number;
  /** Bytes asked for and not yet handed to the caller on this connection. Default 16 MiB. */
  maxInFlightBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_IN_FLIGHT = 16 * 1024 * 1024;
/** The largest range one block status request covers (its length field is 32 bits). */
const MAX_STATUS_BYTES = 0xffffffff;

interface PendingRequest extends ReplyAssembly {
  /** Bytes counted against maxInFlightBytes. */
  budget: number;
  resolve: (value: Buffer | AllocationExtent[]) => void;
  reject: (error: Error) => void;
}

export class NbdClient {
  private readonly pending = new Map<bigint, PendingRequest>();
  private readonly budgetWaiters: Array<() => void> = [];
  private readonly socket: Socket | TLSSocket;
  private readonly queue: ByteQueue;
  private readonly structured: boolean;
  private readonly allocationContextId: number | undefined;
  private nextCookie = 1n;
  private inFlightBytes = 0;
  private failure: Error | undefined;
  private closing = false;
  readonly exportInfo: NbdExport;

  private constructor(
    session: Session,
    private readonly maxInFlightBytes: number,
    private readonly timeoutMs: number,
  ) {
    ({ socket: this.socket, queue: this.queue, exportInfo: this.exportInfo, structured: this.structured, allocationContextId: this.allocationContextId } = session);
    this.socket.setTimeout(timeoutMs);
    this.socket.on('timeout', () => {
      if (this.pending.size > 0) this.fail(new NbdError('NBD_CONNECTION_LOST', `no reply from the NBD server for ${timeoutMs} ms; the connection is dropped`));
    });
    void this.receive();
  }

  static async connect(options: NbdConnectOptions): Promise<NbdClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxInFlightBytes = options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT;
    const where = `${options.host}:${options.port}`;
    const socket = await openSocket(options.host, options.port, timeoutMs).catch((error: unknown) => {
      throw classifyNbdFailure(error, `NBD connection to ${where}`);
    });
    const timer = setTimeout(() => socket.destroy(new NbdError('NBD_CONNECTION_LOST', `NBD handshake with ${where} took more than ${timeoutMs} ms`)), timeoutMs);
    try {
      const highWater = maxInFlightBytes + wire.STRUCTURED_REPLY_HEADER_BYTES;
      return new NbdClient(await handshake(socket, options, highWater), maxInFlightBytes, timeoutMs);
    } catch (error) {
      socket.destroy();
      throw classifyNbdFailure(error, `NBD handshake with ${where}`);
    } finally {
      clearTimeout(timer);
    }
  }

  get size(): number {
    return this.exportInfo.size;
  }

  /** Whether the connection can no longer serve reads (cut, broken, or closed). */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Whether blockStatus can be asked: the server agreed to report base:allocation. */
  get reportsAllocation(): boolean {
    return this.allocationContextId !== undefined;
  }

  /** `length` bytes at `offset`; many may be in flight at once. */
  async read(offset: number, length: number): Promise<Buffer> {
    this.checkRange(offset, length, this.exportInfo.maxReadBytes);
    return (await this.request('read', offset, length, length)) as Buffer;
  }

  /**
   * The allocation of the disk from `offset`, as extents in order; they may stop before
   * `offset + length` (the server says as much as it wants), never after.
   */
  async blockStatus(offset: number, length: number): Promise<AllocationExtent[]> {
    if (this.allocationContextId === undefined) throw new NbdError('NBD_UNSUPPORTED', 'the NBD server does not report base:allocation; read every block instead');
    this.checkRange(offset, length, MAX_STATUS_BYTES);
    return (await this.request('status', offset, length, 0)) as AllocationExtent[];
  }

  /** Waits for the requests in flight, sends NBD_CMD_DISC and closes; a failed connection is just dropped. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    while (this.pending.size > 0 && !this.failure) await new Promise<void>((resolve) => this.budgetWaiters.push(resolve));
    if (!this.failure) {
      this.socket.end(wire.encodeRequest({ flags: 0, type: wire.Command.DISC, cookie: this.nextCookie++, offset: 0n, length: 0 }));
      this.fail(new NbdError('NBD_CONNECTION_LOST', 'the NBD connection was closed'), false);
    }
    await new Promise<void>((resolve) => {
      if (this.socket.closed) return resolve();
      const timer = setTimeout(() => this.socket.destroy(), this.timeoutMs);
      this.socket.once('close', () => (clearTimeout(timer), resolve()));
    });
  }

  /** Drops the connection without a word (a hard disconnect): requests in flight fail as cut. */
  destroy(): void {
    this.fail(new NbdError('NBD_CONNECTION_LOST', 'the NBD connection was dropped by this side'));
  }

  private async request(kind: 'read' | 'status', offset: number, length: number, budget: number): Promise<Buffer | AllocationExtent[]> {
    while (!this.failure && this.inFlightBytes > 0 && this.inFlightBytes + budget > this.maxInFlightBytes) {
      await new Promise<void>((resolve) => this.budgetWaiters.push(resolve));
    }
    if (this.failure) throw this.failure;
    const cookie = this.nextCookie++;
    this.inFlightBytes += budget;
    const reply = new Promise<Buffer | AllocationExtent[]>((resolve, reject) => this.pending.set(cookie, { kind, offset, length, covered: 0, budget, resolve, reject }));
    const type = kind === 'read' ? wire.Command.READ : wire.Command.BLOCK_STATUS;
    this.socket.write(wire.encodeRequest({ flags: 0, type, cookie, offset: BigInt(offset), length }));
    return reply;
  }

  private checkRange(offset: number, length: number, limit: number): void {
    const { size, blockSize } = this.exportInfo;
    const valid = Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length > 0;
    if (!valid || offset + length > size) {
      throw new NbdError('NBD_RANGE_INVALID', `${length} bytes at ${offset} are outside the export (${size} bytes); ask only for bytes of the disk`);
    }
    if (length > limit) throw new NbdError('NBD_RANGE_INVALID', `${length} bytes exceed the ${limit}-byte request limit; split the request`);
    const minimum = blockSize?.minimum ?? 1;
    if (offset % minimum !== 0 || (length % minimum !== 0 && offset + length !== size)) {
      throw new NbdError('NBD_RANGE_INVALID', `${length} bytes at ${offset} are not aligned to the server's ${minimum}-byte blocks`);
    }
  }

  private async receive(): Promise<void> {
    try {
      for (;;) {
        const head = await this.queue.read(wire.SIMPLE_REPLY_BYTES);
        if (this.structured && wire.replyMagicOf(head) === wire.STRUCTURED_REPLY_MAGIC) await this.receiveChunk(head);
        else await this.receiveSimple(head);
      }
    } catch (error) {
      this.fail(classifyNbdFailure(error, 'NBD connection'));
    }
  }

  private async receiveSimple(head: Buffer): Promise<void> {
    const reply = wire.decodeSimpleReply(head);
    const request = this.pendingFor(reply.cookie);
    if (reply.error !== 0) {
      const name = wire.errorCodeName(reply.error);
      const code = reply.error === wire.ErrorCode.ESHUTDOWN ? 'NBD_CONNECTION_LOST' : 'NBD_READ_FAILED';
      this.settle(reply.cookie, request);
      request.reject(new NbdError(code, `the NBD server failed a ${request.kind} (${name}); check the disk on the pool`));
      // Without structured replies, whether data follows an error cannot be known from the
      // stream, so the connection cannot go on; the other reads are asked again on a new one.
      if (!this.structured) throw new NbdError('NBD_CONNECTION_LOST', `connection dropped after the server's ${name}`);
      return;
    }
    if (this.structured || request.kind !== 'read') throw new NbdError('NBD_PROTOCOL', `a simple reply without error to a ${request.kind}${this.structured ? ' after structured replies were agreed' : ''}`);
    const data = await this.queue.read(request.length);
    this.settle(reply.cookie, request);
    request.resolve(data);
  }

  private async receiveChunk(head: Buffer): Promise<void> {
    const header = wire.decodeStructuredReplyHeader(Buffer.concat([head, await this.queue.read(wire.STRUCTURED_REPLY_HEADER_BYTES - head.length)]));
    const request = this.pendingFor(header.cookie);
    await readChunk(this.queue, header, request, this.allocationContextId);
    if (!(header.flags & wire.ReplyFlag.DONE)) return;
    this.settle(header.cookie, request);
    let value: Buffer | AllocationExtent[];
    try {
      value = finishReply(request);
    } catch (error) {
      request.reject(error as Error);
      if (error instanceof NbdError && error.code === 'NBD_PROTOCOL') throw error;
      return;
    }
    request.resolve(value);
  }

  private pendingFor(cookie: bigint): PendingRequest {
    const request = this.pending.get(cookie);
    if (!request) throw new NbdError('NBD_PROTOCOL', `the NBD server replied to cookie ${cookie}, which is not in flight`);
    return request;
  }

  private settle(cookie: bigint, request: PendingRequest): void {
    this.pending.delete(cookie);
    this.inFlightBytes -= request.budget;
    this.budgetWaiters.splice(0).forEach((wake) => wake());
  }

  private fail(error: Error, destroy = true): void {
    if (this.failure) return;
    this.failure = error;
    if (destroy) this.socket.destroy();
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
    this.inFlightBytes = 0;
    this.budgetWaiters.splice(0).forEach((wake) => wake());
  }
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host, port, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => (clearTimeout(timer), socket.off('error', reject), resolve(socket)));
    socket.once('error', (error) => (clearTimeout(timer), reject(error)));
  });
}
