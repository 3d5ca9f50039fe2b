// The client's side of the fixed newstyle handshake: greeting and flags, STARTTLS first when TLS
// is asked (then the same socket upgraded, trusting only the given certificate and checking the
// given subject, not the address), optionally structured replies and the base:allocation context,
// then NBD_OPT_GO, or NBD_OPT_EXPORT_NAME for a server without GO. Option replies are bounded by
// MAX_OPTION_REPLY_BYTES before their data is read.
import { isIP, type Socket } from 'node:net';
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

export interface HandshakeOptions {
  exportName: string;
  tls?: NbdTlsOptions;
  /** Ask for structured replies and base:allocation, so that NbdClient.blockStatus works. */
  blockStatus?: boolean;
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

export interface Session {
  socket: Socket | TLSSocket;
  queue: ByteQueue;
  exportInfo: NbdExport;
  /** Structured replies were negotiated: reads come as chunks. */
  structured: boolean;
  /** The server's id for base:allocation, when it agreed to report it. */
  allocationContextId: number | undefined;
}

/** Option replies larger than this are refused: none this client asks for comes near. */
export const MAX_OPTION_REPLY_BYTES = 64 * 1024;
/** Without a block size from the server, requests stay at or below 32 MiB (proto.md, "Block size constraints"). */
export const DEFAULT_MAX_READ_BYTES = 32 * 1024 * 1024;

type OptionReply = wire.OptionReplyHeader & { data: Buffer };

export async function handshake(plain: Socket, options: HandshakeOptions, highWater: number): Promise<Session> {
  let queue = new ByteQueue(plain, highWater);
  const { handshakeFlags } = wire.decodeGreeting(await queue.read(wire.GREETING_BYTES));
  if (!(handshakeFlags & wire.HandshakeFlag.FIXED_NEWSTYLE)) throw new NbdError('NBD_PROTOCOL', 'the NBD server does not speak fixed newstyle; it cannot be used');
  const noZeroes = (handshakeFlags & wire.HandshakeFlag.NO_ZEROES) !== 0;
  plain.write(wire.encodeClientFlags(wire.ClientFlag.FIXED_NEWSTYLE | (noZeroes ? wire.ClientFlag.NO_ZEROES : 0)));
  let socket: Socket | TLSSocket = plain;
  if (options.tls) {
    const reply = await askOption(plain, queue, wire.Option.STARTTLS);
    if (reply.type !== wire.Reply.ACK) {
      plain.write(wire.encodeOption(wire.Option.ABORT));
      throw new NbdError('NBD_TLS_REFUSED', `TLS was asked and the NBD server will not do it (${wire.replyName(reply.type)}); check the pool's NBD network (purpose nbd, not insecure_nbd)`);
    }
    queue.detach();
    socket = await upgradeToTls(plain, options.tls);
    queue = new ByteQueue(socket, highWater);
  }
  let structured = false;
  let allocationContextId: number | undefined;
  if (options.blockStatus) {
    structured = (await askOption(socket, queue, wire.Option.STRUCTURED_REPLY)).type === wire.Reply.ACK;
    if (structured) allocationContextId = await setAllocationContext(socket, queue, options.exportName);
  }
  const exportInfo = await openExport(socket, queue, options.exportName, noZeroes);
  return { socket, queue, exportInfo, structured, allocationContextId };
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

/** Sends an option and reads its first reply; NBD_REP_ERR_TLS_REQD is turned into its error here. */
async function askOption(socket: Socket | TLSSocket, queue: ByteQueue, option: number, data?: Buffer): Promise<OptionReply> {
  socket.write(wire.encodeOption(option, data));
  return readOptionReply(queue, option);
}

async function readOptionReply(queue: ByteQueue, option: number): Promise<OptionReply> {
  const header = wire.decodeOptionReplyHeader(await queue.read(wire.OPTION_REPLY_HEADER_BYTES));
  if (header.option !== option) throw new NbdError('NBD_PROTOCOL', `the NBD server answered option ${header.option} to option ${option}`);
  if (header.length > MAX_OPTION_REPLY_BYTES) throw new NbdError('NBD_PROTOCOL', `option reply of ${header.length} bytes (at most ${MAX_OPTION_REPLY_BYTES})`);
  const data = header.length > 0 ? await queue.read(header.length) : Buffer.alloc(0);
  if (header.type === wire.Reply.ERR_TLS_REQD) throw new NbdError('NBD_TLS_REQUIRED', 'the NBD server requires TLS; give the certificate and subject from VDI.get_nbd_info');
  return { ...header, data };
}

/** The id of base:allocation, or undefined when the server does not offer it. */
async function setAllocationContext(socket: Socket | TLSSocket, queue: ByteQueue, exportName: string): Promise<number | undefined> {
  let reply = await askOption(socket, queue, wire.Option.SET_META_CONTEXT, wire.encodeMetaContextData(exportName, [wire.BASE_ALLOCATION]));
  let id: number | undefined;
  while (reply.type === wire.Reply.META_CONTEXT) {
    const context = wire.decodeMetaContextReply(reply.data);
    if (context.name === wire.BASE_ALLOCATION) id = context.id;
    reply = await readOptionReply(queue, wire.Option.SET_META_CONTEXT);
  }
  if (reply.type !== wire.Reply.ACK && !wire.isErrorReply(reply.type)) throw new NbdError('NBD_PROTOCOL', `unexpected ${wire.replyName(reply.type)} to NBD_OPT_SET_META_CONTEXT`);
  return reply.type === wire.Reply.ACK ? id : undefined;
}

async function openExport(socket: Socket | TLSSocket, queue: ByteQueue, exportName: string, noZeroes: boolean): Promise<NbdExport> {
  let reply = await askOption(socket, queue, wire.Option.GO, wire.encodeGoData(exportName, [wire.Info.BLOCK_SIZE]));
  let exported: wire.ExportInfo | undefined;
  let blockSize: wire.BlockSizeInfo | undefined;
  while (reply.type === wire.Reply.INFO) {
    const info = wire.decodeInfoReply(reply.data);
    if ('export' in info) exported = info.export;
    else if ('blockSize' in info) blockSize = info.blockSize;
    reply = await readOptionReply(queue, wire.Option.GO);
  }
  if (reply.type === wire.Reply.ERR_UNSUP) return exportByName(socket, queue, exportName, noZeroes);
  if (wire.isErrorReply(reply.type)) {
    const text = reply.data.toString('utf8', 0, Math.min(reply.data.length, wire.MAX_STRING_BYTES));
    throw new NbdError('NBD_EXPORT_REFUSED', `the NBD server refused export "${exportName}" (${wire.replyName(reply.type)}${text ? `: ${text}` : ''}); ask VDI.get_nbd_info for a fresh export name`);
  }
  if (reply.type !== wire.Reply.ACK) throw new NbdError('NBD_PROTOCOL', `unexpected ${wire.replyName(reply.type)} in reply to NBD_OPT_GO`);
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
