// One client of the lab's NBD server, XAPI's way: fixed newstyle; when TLS is required every
// option but STARTTLS and ABORT is answered NBD_REP_ERR_TLS_REQD until the socket is upgraded;
// NBD_OPT_GO / NBD_OPT_INFO answer NBD_INFO_EXPORT and NBD_INFO_BLOCK_SIZE, NBD_OPT_EXPORT_NAME
// is served, LIST is refused by policy; structured replies with the base:allocation context are
// offered, the rest is unsupported. Transmission serves NBD_CMD_READ on a point-in-time DiskReader
// (structured: unallocated blocks as OFFSET_HOLE chunks), NBD_CMD_BLOCK_STATUS and NBD_CMD_DISC,
// one request at a time, replies in order (pipelined requests wait in the socket); the export is
// read-only. Every length read from the wire is checked against a bound before memory is spent on it.
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from '../../../shared/logging/index.js';
import { ByteQueue } from '../../../shared/nbd/byte-queue.js';
import * as wire from '../../../shared/nbd/protocol.js';
import { allocationExtents } from './allocation-extents.js';
import type { ExportSource } from './nbd-exports.js';

/** The largest read served (and announced as NBD_INFO_BLOCK_SIZE's maximum), bytes. */
export const MAX_READ_BYTES = 32 * 1024 * 1024;
/** Option data larger than this is not read: nothing this server accepts comes near. */
const MAX_OPTION_BYTES = 16 * 1024;
const PREFERRED_BLOCK_BYTES = 64 * 1024;
const TRANSMISSION_FLAGS = wire.TransmissionFlag.HAS_FLAGS | wire.TransmissionFlag.READ_ONLY | wire.TransmissionFlag.CAN_MULTI_CONN;
/** The one meta context served, and the id this server gives it. */
const ALLOCATION_CONTEXT_ID = 1;

export interface NbdConnectionOptions {
  exports: ExportSource;
  /** Present: STARTTLS is offered, and required before anything else. */
  tls: SecureContext | undefined;
  /** Cut the connection (TCP reset) after this many bytes of read data, when the nbdCut fault fired. */
  cutAfterBytes: (vdiUuid: string) => number | undefined;
  logger: Logger | undefined;
  /** Told of every chunk of read data sent (bytes). */
  onServed?: (bytes: number) => void;
}

class ConnectionOver extends Error {}

export class NbdConnection {
  private socket: Socket;
  private queue: ByteQueue;
  private reader: ReturnType<ExportSource['open']> | undefined;
  /** NBD_OPT_STRUCTURED_REPLY was agreed. */
  private structured = false;
  /** NBD_OPT_SET_META_CONTEXT selected base:allocation. */
  private reportsAllocation = false;

  constructor(
    private readonly plain: Socket,
    private readonly options: NbdConnectionOptions,
  ) {
    this.socket = plain;
    this.queue = new ByteQueue(plain, MAX_READ_BYTES);
  }

  /** Serves the client until it disconnects or breaks the protocol; never throws. */
  async serve(): Promise<void> {
    try {
      const opened = await this.negotiate();
      if (opened) await this.transmit(opened);
    } catch (error) {
      if (!(error instanceof ConnectionOver)) this.options.logger?.debug({ err: error }, 'lab NBD connection ended');
    } finally {
      this.reader?.close();
      this.reader = undefined;
      this.socket.destroy();
      this.plain.destroy();
    }
  }

  /** Ends the connection now (the lab is closing). */
  destroy(): void {
    this.socket.destroy();
    this.plain.destroy();
  }

  private write(data: Buffer): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new ConnectionOver());
    if (this.socket.write(data)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(new ConnectionOver());
      this.socket.once('close', onClose);
      this.socket.once('drain', () => (this.socket.off('close', onClose), resolve()));
    });
  }

  private reply(option: number, type: number, data?: Buffer): Promise<void> {
    return this.write(wire.encodeOptionReply(option, type, data));
  }

  private refuse(option: number, type: number, message: string): Promise<void> {
    return this.reply(option, type, Buffer.from(message, 'utf8'));
  }

  /** The export entered, or undefined when the client left during haggling. */
  private async negotiate(): Promise<{ vdiUuid: string; size: number } | undefined> {
    await this.write(wire.encodeGreeting(wire.HandshakeFlag.FIXED_NEWSTYLE | wire.HandshakeFlag.NO_ZEROES));
    const clientFlags = wire.decodeClientFlags(await this.queue.read(4));
    if (!(clientFlags & wire.ClientFlag.FIXED_NEWSTYLE)) return undefined;
    const noZeroes = (clientFlags & wire.ClientFlag.NO_ZEROES) !== 0;
    let secured = false;
    for (;;) {
      const { option, length } = wire.decodeOptionHeader(await this.queue.read(wire.OPTION_HEADER_BYTES));
      if (length > MAX_OPTION_BYTES) {
        await this.refuse(option, wire.Reply.ERR_TOO_BIG, `option data of ${length} bytes, at most ${MAX_OPTION_BYTES}`);
        return undefined;
      }
      const data = length > 0 ? await this.queue.read(length) : Buffer.alloc(0);
      const tlsRequired = this.options.tls !== undefined && !secured;
      if (option === wire.Option.ABORT) {
        await this.reply(option, wire.Reply.ACK).catch(() => undefined);
        return undefined;
      }
      if (option === wire.Option.STARTTLS) {
        if (!this.options.tls) await this.refuse(option, wire.Reply.ERR_UNSUP, 'TLS is not offered on this pool (its NBD network is insecure_nbd)');
        else if (secured) await this.refuse(option, wire.Reply.ERR_INVALID, 'TLS is already on');
        else {
          if (length !== 0) return undefined;
          await this.reply(option, wire.Reply.ACK);
          await this.startTls(this.options.tls);
          secured = true;
        }
        continue;
      }
      if (option === wire.Option.EXPORT_NAME) {
        // No error reply exists for EXPORT_NAME: a refusal is a closed connection.
        if (tlsRequired || length > wire.MAX_STRING_BYTES) return undefined;
        const found = this.options.exports.lookup(data.toString('utf8'));
        if ('refused' in found) return undefined;
        await this.write(wire.encodeExportNameReply({ size: BigInt(found.size), transmissionFlags: TRANSMISSION_FLAGS }, noZeroes));
        return found;
      }
      if (tlsRequired) {
        await this.refuse(option, wire.Reply.ERR_TLS_REQD, 'TLS is required on this pool: send NBD_OPT_STARTTLS first');
        continue;
      }
      if (option === wire.Option.GO || option === wire.Option.INFO) {
        const entered = await this.answerGo(option, data);
        if (entered && option === wire.Option.GO) return entered;
        continue;
      }
      if (option === wire.Option.STRUCTURED_REPLY) {
        if (length !== 0) await this.refuse(option, wire.Reply.ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY carries no data');
        else {
          this.structured = true;
          await this.reply(option, wire.Reply.ACK);
        }
        continue;
      }
      if (option === wire.Option.SET_META_CONTEXT || option === wire.Option.LIST_META_CONTEXT) {
        await this.answerMetaContext(option, data);
        continue;
      }
      if (option === wire.Option.LIST) await this.refuse(option, wire.Reply.ERR_POLICY, 'exports are not listed; ask VDI.get_nbd_info');
      else await this.refuse(option, wire.Reply.ERR_UNSUP, `option ${option} is not supported`);
    }
  }

  /** Answers GO or INFO; the export when it was found. */
  private async answerGo(option: number, data: Buffer): Promise<{ vdiUuid: string; size: number } | undefined> {
    let request: { exportName: string; infoRequests: number[] };
    try {
      request = wire.decodeGoData(data);
    } catch (error) {
      await this.refuse(option, wire.Reply.ERR_INVALID, (error as Error).message);
      return undefined;
    }
    const found = this.options.exports.lookup(request.exportName);
    if ('refused' in found) {
      await this.refuse(option, wire.Reply.ERR_UNKNOWN, found.refused);
      return undefined;
    }
    await this.reply(option, wire.Reply.INFO, wire.encodeExportInfo({ size: BigInt(found.size), transmissionFlags: TRANSMISSION_FLAGS }));
    await this.reply(option, wire.Reply.INFO, wire.encodeBlockSizeInfo({ minimum: 1, preferred: PREFERRED_BLOCK_BYTES, maximum: MAX_READ_BYTES }));
    await this.reply(option, wire.Reply.ACK);
    return found;
  }

  /** base:allocation is the one context: listed for an empty query, a `base:` one or its name; selected by its name. */
  private async answerMetaContext(option: number, data: Buffer): Promise<void> {
    let request: { exportName: string; queries: string[] };
    try {
      request = wire.decodeMetaContextData(data);
    } catch (error) {
      await this.refuse(option, wire.Reply.ERR_INVALID, (error as Error).message);
      return;
    }
    if (!this.structured) return this.refuse(option, wire.Reply.ERR_INVALID, 'negotiate NBD_OPT_STRUCTURED_REPLY first');
    const found = this.options.exports.lookup(request.exportName);
    if ('refused' in found) return this.refuse(option, wire.Reply.ERR_UNKNOWN, found.refused);
    const listing = option === wire.Option.LIST_META_CONTEXT;
    const matches = listing
      ? request.queries.length === 0 || request.queries.some((query) => query === 'base:' || query === wire.BASE_ALLOCATION)
      : request.queries.includes(wire.BASE_ALLOCATION);
    if (!listing) this.reportsAllocation = matches;
    if (matches) await this.reply(option, wire.Reply.META_CONTEXT, wire.encodeMetaContextReply(ALLOCATION_CONTEXT_ID, wire.BASE_ALLOCATION));
    await this.reply(option, wire.Reply.ACK);
  }

  private async startTls(context: SecureContext): Promise<void> {
    this.queue.detach();
    const secure = new TLSSocket(this.plain, { isServer: true, secureContext: context });
    this.socket = secure;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      secure.once('error', onError);
      secure.once('close', () => reject(new ConnectionOver()));
      secure.once('secure', () => (secure.off('error', onError), resolve()));
    });
    secure.on('error', () => undefined); // read failures reach the queue; a write failure ends the connection below
    this.queue = new ByteQueue(secure, MAX_READ_BYTES);
  }

  private async transmit(opened: { vdiUuid: string; size: number }): Promise<void> {
    const reader = (this.reader = this.options.exports.open(opened.vdiUuid));
    const budget = { cutAfter: this.options.cutAfterBytes(opened.vdiUuid), sent: 0 };
    for (;;) {
      const request = wire.decodeRequest(await this.queue.read(wire.REQUEST_BYTES));
      if (request.type === wire.Command.DISC) return;
      if (request.type === wire.Command.WRITE) {
        // A read-only export: the payload is skipped (when it is within bounds) and refused.
        if (request.length > MAX_READ_BYTES) return;
        await this.queue.read(request.length);
        await this.write(wire.encodeSimpleReply({ error: wire.ErrorCode.EPERM, cookie: request.cookie }));
        continue;
      }
      const isRead = request.type === wire.Command.READ;
      const isStatus = request.type === wire.Command.BLOCK_STATUS && this.reportsAllocation;
      const inside = request.length > 0 && request.offset + BigInt(request.length) <= BigInt(reader.virtualSize);
      if (!(isRead || isStatus) || !inside || (isRead && request.length > MAX_READ_BYTES)) {
        await this.fail(request.cookie, isRead || isStatus, wire.ErrorCode.EINVAL, 'outside the export, too long, or not supported');
        continue;
      }
      const offset = Number(request.offset);
      if (isStatus) await this.sendStatus(request.cookie, offset, request.length);
      else if (this.structured) await this.sendStructuredRead(request.cookie, offset, request.length, budget);
      else {
        await this.write(wire.encodeSimpleReply({ error: 0, cookie: request.cookie }));
        for await (const chunk of reader.readRange(offset, request.length)) await this.sendData(chunk, budget);
      }
    }
  }

  /** An error reply: a structured ERROR chunk where structured replies are in use for the command, else a simple one. */
  private fail(cookie: bigint, structuredCommand: boolean, error: number, message: string): Promise<void> {
    if (!(this.structured && structuredCommand)) return this.write(wire.encodeSimpleReply({ error, cookie }));
    const payload = wire.encodeStructuredError(error, message);
    return this.write(Buffer.concat([wire.encodeStructuredReplyHeader({ flags: wire.ReplyFlag.DONE, type: wire.StructuredReplyType.ERROR, cookie, length: payload.length }), payload]));
  }

  /** One chunk per 2 MiB block: OFFSET_HOLE where nothing is allocated, OFFSET_DATA elsewhere; the last one DONE. */
  private async sendStructuredRead(cookie: bigint, offset: number, length: number, budget: { cutAfter: number | undefined; sent: number }): Promise<void> {
    const reader = this.reader!;
    const end = offset + length;
    for (let position = offset; position < end; ) {
      const index = Math.floor(position / reader.blockSize);
      const stop = Math.min((index + 1) * reader.blockSize, end);
      const flags = stop === end ? wire.ReplyFlag.DONE : 0;
      if (!reader.isAllocated(index)) {
        const payload = wire.encodeOffsetHole(BigInt(position), stop - position);
        await this.write(Buffer.concat([wire.encodeStructuredReplyHeader({ flags, type: wire.StructuredReplyType.OFFSET_HOLE, cookie, length: payload.length }), payload]));
      } else {
        const head = wire.encodeStructuredReplyHeader({ flags, type: wire.StructuredReplyType.OFFSET_DATA, cookie, length: 8 + stop - position });
        await this.write(Buffer.concat([head, wire.encodeOffsetDataHead(BigInt(position))]));
        for await (const chunk of reader.readRange(position, stop - position)) await this.sendData(chunk, budget);
      }
      position = stop;
    }
  }

  private async sendStatus(cookie: bigint, offset: number, length: number): Promise<void> {
    const payload = wire.encodeBlockStatusPayload(ALLOCATION_CONTEXT_ID, allocationExtents(this.reader!, offset, length));
    await this.write(Buffer.concat([wire.encodeStructuredReplyHeader({ flags: wire.ReplyFlag.DONE, type: wire.StructuredReplyType.BLOCK_STATUS, cookie, length: payload.length }), payload]));
  }

  /** Read data onto the wire, counted for the nbdCut fault, which cuts the connection mid-chunk. */
  private async sendData(chunk: Buffer, budget: { cutAfter: number | undefined; sent: number }): Promise<void> {
    if (budget.cutAfter !== undefined && budget.sent + chunk.length > budget.cutAfter) {
      await this.write(chunk.subarray(0, budget.cutAfter - budget.sent));
      this.cut();
      throw new ConnectionOver();
    }
    await this.write(chunk);
    budget.sent += chunk.length;
    this.options.onServed?.(chunk.length);
  }

  /** The nbdCut fault: a TCP reset, as a dropped link or a restarted host gives. */
  private cut(): void {
    this.options.logger?.warn('lab NBD connection cut (fault)');
    if (!this.plain.destroyed) this.plain.resetAndDestroy();
    this.socket.destroy();
  }
}
