// One NBD connection, client side: the fixed newstyle handshake (STARTTLS first when TLS is asked,
// then NBD_OPT_GO, or NBD_OPT_EXPORT_NAME for a server without GO), then pipelined reads: many
// requests in flight, replies matched by cookie, at most `maxInFlightBytes` asked and not yet
// handed over. Every length that comes from the wire is checked before memory is spent on it: an
// option reply is at most MAX_OPTION_REPLY_BYTES, a read's payload is the length this side asked
// for (simple replies carry none of their own), the export's size must be a safe integer.
//
// TLS is the pool's way (XAPI's get_nbd_info): the host's own certificate is the only trust anchor
// and the name checked is the `subject` given with it, not the address connected to.
import { isIP, Socket, connect as connectTcp } from 'node:net';
import { checkServerIdentity, connect as connectTls, type PeerCertificate, type TLSSocket } from 'node:tls';
import { ByteQueue } from './byte-queue.js';
import { NbdError } from './nbd-error.js';
import * as wire from './protocol.js';

export interface NbdTlsOptions {
  /** PEM certificate(s) trusted for this server and nothing else (XAPI: the record's `cert`). */
  ca: string;
  /** The name the server's certificate must carry (XAPI: the record's `subject`). */
  subject: string;
}

export interface NbdConnectOptions {
  host: string;
  port: number;
  exportName: string;
  /** Absent: plaintext, and a server that insists on TLS is refused with NBD_TLS_REQUIRED. */
  tls?: NbdTlsOptions;
  /** Milliseconds for the connection and handshake, and the longest silence while replies are due. Default 30 000. */
  timeoutMs?: number;
  /** Bytes asked for and not yet handed to the caller on this connection. Default 16 MiB. */
  maxInFlightBytes?: number;
}

export interface NbdExport {
  /** Bytes. */
  size: number;
  /** Transmission flags (protocol.TransmissionFlag). */
  transmissionFlags: number;
  /** The server's block size constraints, when it sent them. */
  blockSize: wire.BlockSizeInfo | undefined;
  /** The largest read this client sends in one request, bytes. */
  maxReadBytes: number;
}

/** Option replies larger than this are refused: none this client asks for comes near. */
export const MAX_OPTION_REPLY_BYTES = 64 * 1024;
/** Without a block size from the server, requests stay at or below 32 MiB (proto.md, "Block size constraints"). */
export const DEFAULT_MAX_READ_BYTES = 32 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_IN_FLIGHT = 16 * 1024 * 1024;

interface PendingRead {
  length: number;
  resolve: (data: Buffer) => void;
  reject: (error: Error) => void;
}

export class NbdClient {
  private readonly pending = new Map<bigint, PendingRead>();
  private readonly budgetWaiters: Array<() => void> = [];
  private nextCookie = 1n;
  private inFlightBytes = 0;
  private failure: Error | undefined;
  private closing = false;

  private constructor(
    private readonly socket: Socket | TLSSocket,
    private readonly queue: ByteQueue,
    readonly exportInfo: NbdExport,
    private readonly maxInFlightBytes: number,
    private readonly timeoutMs: number,
  ) {
    socket.setTimeout(timeoutMs);
    socket.on('timeout', () => {
      if (this.pending.size > 0) this.fail(new NbdError('NBD_CONNECTION_LOST', `no reply from the NBD server for ${timeoutMs} ms; the connection is dropped`));
    });
    void this.receive();
  }

  static async connect(options: NbdConnectOptions): Promise<NbdClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxInFlightBytes = options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT;
    const where = `${options.host}:${options.port}`;
    const socket = await openSocket(options.host, options.port, timeoutMs).catch((error: unknown) => {
      throw classify(error, `NBD connection to ${where}`);
    });
    const timer = setTimeout(() => socket.destroy(new NbdError('NBD_CONNECTION_LOST', `NBD handshake with ${where} took more than ${timeoutMs} ms`)), timeoutMs);
    try {
      const session = await handshake(socket, options, maxInFlightBytes);
      return new NbdClient(session.socket, session.queue, session.exportInfo, maxInFlightBytes, timeoutMs);
    } catch (error) {
      socket.destroy();
      throw classify(error, `NBD handshake with ${where}`);
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

  /** `length` bytes at `offset`; many may be in flight at once. */
  async read(offset: number, length: number): Promise<Buffer> {
    this.checkRange(offset, length);
    while (!this.failure && this.inFlightBytes > 0 && this.inFlightBytes + length > this.maxInFlightBytes) {
      await new Promise<void>((resolve) => this.budgetWaiters.push(resolve));
    }
    if (this.failure) throw this.failure;
    const cookie = this.nextCookie++;
    this.inFlightBytes += length;
    const reply = new Promise<Buffer>((resolve, reject) => this.pending.set(cookie, { length, resolve, reject }));
    this.socket.write(wire.encodeRequest({ flags: 0, type: wire.Command.READ, cookie, offset: BigInt(offset), length }));
    return reply;
  }

  /** Waits for the reads in flight, sends NBD_CMD_DISC and closes; a failed connection is just dropped. */
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

  /** Drops the connection without a word (a hard disconnect): reads in flight fail as cut. */
  destroy(): void {
    this.fail(new NbdError('NBD_CONNECTION_LOST', 'the NBD connection was dropped by this side'));
  }

  private checkRange(offset: number, length: number): void {
    const { size, maxReadBytes, blockSize } = this.exportInfo;
    const valid = Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length > 0;
    if (!valid || offset + length > size) {
      throw new NbdError('NBD_RANGE_INVALID', `read of ${length} bytes at ${offset} is outside the export (${size} bytes); ask only for bytes of the disk`);
    }
    if (length > maxReadBytes) throw new NbdError('NBD_RANGE_INVALID', `read of ${length} bytes exceeds the ${maxReadBytes}-byte request limit; split it`);
    const minimum = blockSize?.minimum ?? 1;
    if (offset % minimum !== 0 || (length % minimum !== 0 && offset + length !== size)) {
      throw new NbdError('NBD_RANGE_INVALID', `read of ${length} bytes at ${offset} is not aligned to the server's ${minimum}-byte blocks`);
    }
  }

  private async receive(): Promise<void> {
    try {
      for (;;) {
        const reply = wire.decodeSimpleReply(await this.queue.read(wire.SIMPLE_REPLY_BYTES));
        const read = this.pending.get(reply.cookie);
        if (!read) throw new NbdError('NBD_PROTOCOL', `the NBD server replied to cookie ${reply.cookie}, which is not in flight`);
        if (reply.error !== 0) {
          // Whether data follows an error in a simple reply is not knowable from the stream, so
          // the connection cannot go on; the other reads in flight are re-asked on a new one.
          this.settle(reply.cookie, read);
          const name = wire.errorCodeName(reply.error);
          const code = reply.error === wire.ErrorCode.ESHUTDOWN ? 'NBD_CONNECTION_LOST' : 'NBD_READ_FAILED';
          read.reject(new NbdError(code, `the NBD server failed a read (${name}); check the disk on the pool`));
          throw new NbdError('NBD_CONNECTION_LOST', `connection dropped after the server's ${name}`);
        }
        const data = await this.queue.read(read.length);
        this.settle(reply.cookie, read);
        read.resolve(data);
      }
    } catch (error) {
      this.fail(classify(error, 'NBD connection'));
    }
  }

  private settle(cookie: bigint, read: PendingRead): void {
    this.pending.delete(cookie);
    this.inFlightBytes -= read.length;
    this.budgetWaiters.splice(0).forEach((wake) => wake());
  }

  private fail(error: Error, destroy = true): void {
    if (this.failure) return;
    this.failure = error;
    if (destroy) this.socket.destroy();
    for (const read of this.pending.values()) read.reject(error);
    this.pending.clear();
    this.inFlightBytes = 0;
    this.budgetWaiters.splice(0).forEach((wake) => wake());
  }
}

/** Socket errors and stream ends become NBD_CONNECTION_LOST; our own errors pass through. */
function classify(error: unknown, what: string): Error {
  if (error instanceof NbdError) return error;
  if (error instanceof wire.NbdWireError) return new NbdError('NBD_PROTOCOL', `${what}: ${error.message}`, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new NbdError('NBD_CONNECTION_LOST', `${what}: ${message}; check that the NBD server is reachable`, { cause: error });
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host, port, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => (clearTimeout(timer), socket.off('error', reject), resolve(socket)));
    socket.once('error', (error) => (clearTimeout(timer), reject(error)));
  });
}

interface Session {
  socket: Socket | TLSSocket;
  queue: ByteQueue;
  exportInfo: NbdExport;
}

async function handshake(plain: Socket, options: NbdConnectOptions, maxInFlightBytes: number): Promise<Session> {
  const highWater = maxInFlightBytes + wire.SIMPLE_REPLY_BYTES;
  let queue = new ByteQueue(plain, highWater);
  const { handshakeFlags } = wire.decodeGreeting(await queue.read(wire.GREETING_BYTES));
  if (!(handshakeFlags & wire.HandshakeFlag.FIXED_NEWSTYLE)) throw new NbdError('NBD_PROTOCOL', 'the NBD server does not speak fixed newstyle; it cannot be used');
  const noZeroes = (handshakeFlags & wire.HandshakeFlag.NO_ZEROES) !== 0;
  plain.write(wire.encodeClientFlags(wire.ClientFlag.FIXED_NEWSTYLE | (noZeroes ? wire.ClientFlag.NO_ZEROES : 0)));
  let socket: Socket | TLSSocket = plain;
  if (options.tls) {
    plain.write(wire.encodeOption(wire.Option.STARTTLS));
    const reply = await readOptionReply(queue, wire.Option.STARTTLS);
    if (reply.type !== wire.Reply.ACK) {
      plain.write(wire.encodeOption(wire.Option.ABORT));
      throw new NbdError('NBD_TLS_REFUSED', `TLS was asked and the NBD server will not do it (${wire.replyName(reply.type)}); check the pool's NBD network (purpose nbd, not insecure_nbd)`);
    }
    queue.detach();
    socket = await upgradeToTls(plain, options.tls);
    queue = new ByteQueue(socket, highWater);
  }
  const exportInfo = await openExport(socket, queue, options, noZeroes);
  return { socket, queue, exportInfo };
}

function upgradeToTls(socket: Socket, options: NbdTlsOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = connectTls({
      socket,
      ca: [options.ca],
      ...(isIP(options.subject) ? {} : { servername: options.subject }),
      checkServerIdentity: (_host: string, certificate: PeerCertificate) => checkServerIdentity(options.subject, certificate),
    });
    const onError = (error: Error): void => {
      secure.destroy();
      reject(new NbdError('NBD_TLS_REFUSED', `the NBD server's certificate is not the pool's (${error.message}); refresh the certificate from VDI.get_nbd_info`, { cause: error }));
    };
    secure.once('error', onError);
    secure.once('secureConnect', () => (secure.off('error', onError), resolve(secure)));
  });
}

async function readOptionReply(queue: ByteQueue, option: number): Promise<wire.OptionReplyHeader & { data: Buffer }> {
  const header = wire.decodeOptionReplyHeader(await queue.read(wire.OPTION_REPLY_HEADER_BYTES));
  if (header.option !== option) throw new NbdError('NBD_PROTOCOL', `the NBD server answered option ${header.option} to option ${option}`);
  if (header.length > MAX_OPTION_REPLY_BYTES) throw new NbdError('NBD_PROTOCOL', `option reply of ${header.length} bytes (at most ${MAX_OPTION_REPLY_BYTES})`);
  const data = header.length > 0 ? await queue.read(header.length) : Buffer.alloc(0);
  return { ...header, data };
}

async function openExport(socket: Socket | TLSSocket, queue: ByteQueue, options: NbdConnectOptions, noZeroes: boolean): Promise<NbdExport> {
  socket.write(wire.encodeOption(wire.Option.GO, wire.encodeGoData(options.exportName, [wire.Info.BLOCK_SIZE])));
  let exported: wire.ExportInfo | undefined;
  let blockSize: wire.BlockSizeInfo | undefined;
  for (;;) {
    const reply = await readOptionReply(queue, wire.Option.GO);
    if (reply.type === wire.Reply.ACK) break;
    if (reply.type === wire.Reply.INFO) {
      const info = wire.decodeInfoReply(reply.data);
      if ('export' in info) exported = info.export;
      else if ('blockSize' in info) blockSize = info.blockSize;
      continue;
    }
    if (reply.type === wire.Reply.ERR_UNSUP) return exportByName(socket, queue, options.exportName, noZeroes);
    const text = wire.isErrorReply(reply.type) ? reply.data.toString('utf8', 0, Math.min(reply.data.length, wire.MAX_STRING_BYTES)) : '';
    if (reply.type === wire.Reply.ERR_TLS_REQD) throw new NbdError('NBD_TLS_REQUIRED', 'the NBD server requires TLS; give the certificate and subject from VDI.get_nbd_info');
    if (wire.isErrorReply(reply.type)) throw new NbdError('NBD_EXPORT_REFUSED', `the NBD server refused export "${options.exportName}" (${wire.replyName(reply.type)}${text ? `: ${text}` : ''}); ask VDI.get_nbd_info for a fresh export name`);
    throw new NbdError('NBD_PROTOCOL', `unexpected ${wire.replyName(reply.type)} in reply to NBD_OPT_GO`);
  }
  if (!exported) throw new NbdError('NBD_PROTOCOL', 'the NBD server entered transmission without NBD_INFO_EXPORT');
  return describeExport(exported, blockSize);
}

/** For servers without NBD_OPT_GO: the old way in, which has no error reply (a refusal is a closed connection). */
async function exportByName(socket: Socket | TLSSocket, queue: ByteQueue, exportName: string, noZeroes: boolean): Promise<NbdExport> {
  socket.write(wire.encodeOption(wire.Option.EXPORT_NAME, Buffer.from(exportName, 'utf8')));
  let exported: wire.ExportInfo;
  try {
    exported = wire.decodeExportNameReply(await queue.read(wire.EXPORT_NAME_REPLY_BYTES));
  } catch (error) {
    throw new NbdError('NBD_EXPORT_REFUSED', `the NBD server closed the connection on export "${exportName}"; ask VDI.get_nbd_info for a fresh export name`, { cause: error });
  }
  if (!noZeroes) await queue.read(wire.EXPORT_NAME_ZEROES);
  return describeExport(exported, undefined);
}

function describeExport(exported: wire.ExportInfo, blockSize: wire.BlockSizeInfo | undefined): NbdExport {
  if (exported.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new NbdError('NBD_PROTOCOL', `export size ${exported.size} is not a sane disk size`);
  if (blockSize) {
    const { minimum, preferred, maximum } = blockSize;
    const powerOfTwo = (value: number): boolean => value > 0 && (value & (value - 1)) === 0;
    if (!powerOfTwo(minimum) || minimum > 65536 || !powerOfTwo(preferred) || preferred < minimum || maximum < preferred) {
      throw new NbdError('NBD_PROTOCOL', `block size constraints ${minimum}/${preferred}/${maximum} are not valid`);
    }
  }
  const maxReadBytes = Math.min(DEFAULT_MAX_READ_BYTES, blockSize?.maximum ?? DEFAULT_MAX_READ_BYTES);
  return { size: Number(exported.size), transmissionFlags: exported.transmissionFlags, blockSize, maxReadBytes };
}
