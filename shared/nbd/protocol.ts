// The NBD wire format, fixed newstyle (NetworkBlockDevice/nbd doc/proto.md): the handshake, option
// haggling (STARTTLS, GO with INFO replies, EXPORT_NAME, ABORT) and the transmission phase's
// requests and simple replies. Pure encoders and decoders for both directions, so that a client
// and a server (the lab pool's) share one definition of every byte. Integers are big-endian;
// 64-bit fields are carried as bigint where a server may send any value (sizes, offsets from the
// wire) and as number where this side produces them.
//
// Decoders take exactly the fixed-size part of a message and check its magic; variable-size
// payloads are read by the caller, after it checked their length against its own bound.

export const NBD_MAGIC = 0x4e42444d41474943n; // 'NBDMAGIC'
export const IHAVEOPT = 0x49484156454f5054n; // 'IHAVEOPT', the newstyle magic and option magic
export const OLDSTYLE_MAGIC = 0x00420281861253n;
export const OPTION_REPLY_MAGIC = 0x0003e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags (server, 16 bits). */
export const HandshakeFlag = { FIXED_NEWSTYLE: 1 << 0, NO_ZEROES: 1 << 1 } as const;
/** Client flags (32 bits), the same bits. */
export const ClientFlag = { FIXED_NEWSTYLE: 1 << 0, NO_ZEROES: 1 << 1 } as const;

export const Option = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;

const ERROR_BIT = 0x80000000;
export const Reply = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: ERROR_BIT + 1,
  ERR_POLICY: ERROR_BIT + 2,
  ERR_INVALID: ERROR_BIT + 3,
  ERR_PLATFORM: ERROR_BIT + 4,
  ERR_TLS_REQD: ERROR_BIT + 5,
  ERR_UNKNOWN: ERROR_BIT + 6,
  ERR_SHUTDOWN: ERROR_BIT + 7,
  ERR_BLOCK_SIZE_REQD: ERROR_BIT + 8,
  ERR_TOO_BIG: ERROR_BIT + 9,
} as const;

export function isErrorReply(type: number): boolean {
  return type >= ERROR_BIT;
}

/** A readable name for an option reply type (for messages), e.g. `NBD_REP_ERR_TLS_REQD`. */
export function replyName(type: number): string {
  const entry = Object.entries(Reply).find(([, value]) => value === type);
  return entry ? `NBD_REP_${entry[0]}` : `reply type 0x${type.toString(16)}`;
}

export const Info = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Transmission flags (16 bits), sent with the export's size. */
export const TransmissionFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_RESIZE: 1 << 9,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

export const Command = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 } as const;

/** Error values of replies (errno numbers as the protocol fixes them, not the local system's). */
export const ErrorCode = { EPERM: 1, EIO: 5, ENOMEM: 12, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ENOTSUP: 95, ESHUTDOWN: 108 } as const;

export function errorCodeName(code: number): string {
  const entry = Object.entries(ErrorCode).find(([, value]) => value === code);
  return entry ? entry[0] : `error ${code}`;
}

/** Bytes of the server's greeting: NBDMAGIC, IHAVEOPT, 16-bit handshake flags. */
export const GREETING_BYTES = 18;
export const OPTION_HEADER_BYTES = 16;
export const OPTION_REPLY_HEADER_BYTES = 20;
export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
/** The reply to NBD_OPT_EXPORT_NAME without its 124 zero bytes. */
export const EXPORT_NAME_REPLY_BYTES = 10;
export const EXPORT_NAME_ZEROES = 124;
/** Strings (export names, messages) MUST be at most this long (proto.md, "Conventions"). */
export const MAX_STRING_BYTES = 4096;

export class NbdWireError extends Error {
  override name = 'NbdWireError';
}

function expectLength(buffer: Buffer, length: number, what: string): void {
  if (buffer.length !== length) throw new NbdWireError(`${what}: ${buffer.length} bytes, expected ${length}`);
}

// --- handshake ---------------------------------------------------------------------------------

export function encodeGreeting(handshakeFlags: number): Buffer {
  const out = Buffer.alloc(GREETING_BYTES);
  out.writeBigUInt64BE(NBD_MAGIC, 0);
  out.writeBigUInt64BE(IHAVEOPT, 8);
  out.writeUInt16BE(handshakeFlags, 16);
  return out;
}

export function decodeGreeting(buffer: Buffer): { handshakeFlags: number } {
  expectLength(buffer, GREETING_BYTES, 'greeting');
  if (buffer.readBigUInt64BE(0) !== NBD_MAGIC) throw new NbdWireError('not an NBD server (no NBDMAGIC)');
  const second = buffer.readBigUInt64BE(8);
  if (second === OLDSTYLE_MAGIC) throw new NbdWireError('the server speaks the oldstyle handshake; only fixed newstyle is supported');
  if (second !== IHAVEOPT) throw new NbdWireError(`unknown handshake magic 0x${second.toString(16)}`);
  return { handshakeFlags: buffer.readUInt16BE(16) };
}

export function encodeClientFlags(flags: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(flags, 0);
  return out;
}

export function decodeClientFlags(buffer: Buffer): number {
  expectLength(buffer, 4, 'client flags');
  return buffer.readUInt32BE(0);
}

// --- options (client to server) -----------------------------------------------------------------

export function encodeOption(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(OPTION_HEADER_BYTES);
  header.writeBigUInt64BE(IHAVEOPT, 0);
  header.writeUInt32BE(option, 8);
  header.writeUInt32BE(data.length, 12);
  return Buffer.concat([header, data]);
}

export function decodeOptionHeader(buffer: Buffer): { option: number; length: number } {
  expectLength(buffer, OPTION_HEADER_BYTES, 'option header');
  if (buffer.readBigUInt64BE(0) !== IHAVEOPT) throw new NbdWireError('option without IHAVEOPT magic');
  return { option: buffer.readUInt32BE(8), length: buffer.readUInt32BE(12) };
}

function encodeString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > MAX_STRING_BYTES) throw new NbdWireError(`string of ${bytes.length} bytes, at most ${MAX_STRING_BYTES}`);
  return bytes;
}

/** NBD_OPT_GO / NBD_OPT_INFO data: the export name and the information items asked for. */
export function encodeGoData(exportName: string, infoRequests: readonly number[]): Buffer {
  const name = encodeString(exportName);
  const out = Buffer.alloc(4 + name.length + 2 + 2 * infoRequests.length);
  out.writeUInt32BE(name.length, 0);
  name.copy(out, 4);
  out.writeUInt16BE(infoRequests.length, 4 + name.length);
  infoRequests.forEach((info, index) => out.writeUInt16BE(info, 6 + name.length + 2 * index));
  return out;
}

export function decodeGoData(data: Buffer): { exportName: string; infoRequests: number[] } {
  if (data.length < 6) throw new NbdWireError('NBD_OPT_GO data too short');
  const nameLength = data.readUInt32BE(0);
  if (nameLength > MAX_STRING_BYTES || 4 + nameLength + 2 > data.length) throw new NbdWireError('NBD_OPT_GO export name length out of bounds');
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 6 + nameLength + 2 * count) throw new NbdWireError('NBD_OPT_GO data length does not match its information requests');
  const infoRequests: number[] = [];
  for (let index = 0; index < count; index++) infoRequests.push(data.readUInt16BE(6 + nameLength + 2 * index));
  return { exportName: data.toString('utf8', 4, 4 + nameLength), infoRequests };
}

// --- option replies (server to client) ----------------------------------------------------------

export interface OptionReplyHeader {
  option: number;
  type: number;
  length: number;
}

export function encodeOptionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(OPTION_REPLY_HEADER_BYTES);
  header.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  header.writeUInt32BE(option, 8);
  header.writeUInt32BE(type, 12);
  header.writeUInt32BE(data.length, 16);
  return Buffer.concat([header, data]);
}

export function decodeOptionReplyHeader(buffer: Buffer): OptionReplyHeader {
  expectLength(buffer, OPTION_REPLY_HEADER_BYTES, 'option reply header');
  if (buffer.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw new NbdWireError('option reply without its magic');
  return { option: buffer.readUInt32BE(8), type: buffer.readUInt32BE(12), length: buffer.readUInt32BE(16) };
}

export interface ExportInfo {
  /** Bytes; bigint because the wire allows any 64-bit value and the reader must check it. */
  size: bigint;
  transmissionFlags: number;
}

export interface BlockSizeInfo {
  minimum: number;
  preferred: number;
  maximum: number;
}

export type InfoReply =
  | { info: typeof Info.EXPORT; export: ExportInfo }
  | { info: typeof Info.BLOCK_SIZE; blockSize: BlockSizeInfo }
  | { info: number; unknown: true };

export function encodeExportInfo(value: ExportInfo): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(Info.EXPORT, 0);
  out.writeBigUInt64BE(value.size, 2);
  out.writeUInt16BE(value.transmissionFlags, 10);
  return out;
}

export function encodeBlockSizeInfo(value: BlockSizeInfo): Buffer {
  const out = Buffer.alloc(14);
  out.writeUInt16BE(Info.BLOCK_SIZE, 0);
  out.writeUInt32BE(value.minimum, 2);
  out.writeUInt32BE(value.preferred, 6);
  out.writeUInt32BE(value.maximum, 10);
  return out;
}

/** The data of an NBD_REP_INFO reply. Items this side does not know are returned as unknown. */
export function decodeInfoReply(data: Buffer): InfoReply {
  if (data.length < 2) throw new NbdWireError('NBD_REP_INFO without its type');
  const info = data.readUInt16BE(0);
  if (info === Info.EXPORT) {
    expectLength(data, 12, 'NBD_INFO_EXPORT');
    return { info, export: { size: data.readBigUInt64BE(2), transmissionFlags: data.readUInt16BE(10) } };
  }
  if (info === Info.BLOCK_SIZE) {
    expectLength(data, 14, 'NBD_INFO_BLOCK_SIZE');
    return { info, blockSize: { minimum: data.readUInt32BE(2), preferred: data.readUInt32BE(6), maximum: data.readUInt32BE(10) } };
  }
  return { info, unknown: true };
}

/** The reply to NBD_OPT_EXPORT_NAME (no option reply header), zero padding included unless NO_ZEROES. */
export function encodeExportNameReply(value: ExportInfo, noZeroes: boolean): Buffer {
  const out = Buffer.alloc(EXPORT_NAME_REPLY_BYTES + (noZeroes ? 0 : EXPORT_NAME_ZEROES));
  out.writeBigUInt64BE(value.size, 0);
  out.writeUInt16BE(value.transmissionFlags, 8);
  return out;
}

export function decodeExportNameReply(buffer: Buffer): ExportInfo {
  expectLength(buffer, EXPORT_NAME_REPLY_BYTES, 'NBD_OPT_EXPORT_NAME reply');
  return { size: buffer.readBigUInt64BE(0), transmissionFlags: buffer.readUInt16BE(8) };
}

// --- transmission ----------------------------------------------------------------------------------

export interface Request {
  flags: number;
  type: number;
  /** The cookie (called handle in older texts) the reply will carry. */
  cookie: bigint;
  offset: bigint;
  length: number;
}

/** A request header; a WRITE's data follows it on the wire, sent separately. */
export function encodeRequest(request: Request): Buffer {
  const out = Buffer.alloc(REQUEST_BYTES);
  out.writeUInt32BE(REQUEST_MAGIC, 0);
  out.writeUInt16BE(request.flags, 4);
  out.writeUInt16BE(request.type, 6);
  out.writeBigUInt64BE(request.cookie, 8);
  out.writeBigUInt64BE(request.offset, 16);
  out.writeUInt32BE(request.length, 24);
  return out;
}

export function decodeRequest(buffer: Buffer): Request {
  expectLength(buffer, REQUEST_BYTES, 'request');
  if (buffer.readUInt32BE(0) !== REQUEST_MAGIC) throw new NbdWireError('request without its magic');
  return {
    flags: buffer.readUInt16BE(4),
    type: buffer.readUInt16BE(6),
    cookie: buffer.readBigUInt64BE(8),
    offset: buffer.readBigUInt64BE(16),
    length: buffer.readUInt32BE(24),
  };
}

export interface SimpleReply {
  error: number;
  cookie: bigint;
}

/** A simple reply header; a successful READ's data follows it, exactly the length asked for. */
export function encodeSimpleReply(reply: SimpleReply): Buffer {
  const out = Buffer.alloc(SIMPLE_REPLY_BYTES);
  out.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  out.writeUInt32BE(reply.error, 4);
  out.writeBigUInt64BE(reply.cookie, 8);
  return out;
}

export function decodeSimpleReply(buffer: Buffer): SimpleReply {
  expectLength(buffer, SIMPLE_REPLY_BYTES, 'reply');
  const magic = buffer.readUInt32BE(0);
  if (magic === STRUCTURED_REPLY_MAGIC) throw new NbdWireError('structured reply received although none was negotiated');
  if (magic !== SIMPLE_REPLY_MAGIC) throw new NbdWireError(`reply with unknown magic 0x${magic.toString(16)}`);
  return { error: buffer.readUInt32BE(4), cookie: buffer.readBigUInt64BE(8) };
}

// --- structured replies and block status (NBD_OPT_STRUCTURED_REPLY, NBD_OPT_SET_META_CONTEXT) -----

export const STRUCTURED_REPLY_HEADER_BYTES = 20;
export const ReplyFlag = { DONE: 1 << 0 } as const;
export const StructuredReplyType = { NONE: 0, OFFSET_DATA: 1, OFFSET_HOLE: 2, BLOCK_STATUS: 5, ERROR: (1 << 15) + 1, ERROR_OFFSET: (1 << 15) + 2 } as const;
export const BASE_ALLOCATION = 'base:allocation';
/** base:allocation flags of an extent. */
export const AllocationFlag = { HOLE: 1 << 0, ZERO: 1 << 1 } as const;

export function isStructuredErrorType(type: number): boolean {
  return (type & (1 << 15)) !== 0;
}

/** NBD_OPT_SET_META_CONTEXT / NBD_OPT_LIST_META_CONTEXT data. */
export function encodeMetaContextData(exportName: string, queries: readonly string[]): Buffer {
  const parts = [encodeString(exportName), ...queries.map(encodeString)];
  const out = Buffer.alloc(4 + parts[0]!.length + 4 + queries.length * 4 + parts.slice(1).reduce((sum, part) => sum + part.length, 0));
  let at = out.writeUInt32BE(parts[0]!.length, 0);
  at += parts[0]!.copy(out, at);
  at = out.writeUInt32BE(queries.length, at);
  for (const query of parts.slice(1)) {
    at = out.writeUInt32BE(query.length, at);
    at += query.copy(out, at);
  }
  return out;
}

export function decodeMetaContextData(data: Buffer): { exportName: string; queries: string[] } {
  const strings: string[] = [];
  let at = 0;
  const readString = (): string => {
    if (at + 4 > data.length) throw new NbdWireError('meta context data too short');
    const length = data.readUInt32BE(at);
    if (length > MAX_STRING_BYTES || at + 4 + length > data.length) throw new NbdWireError('meta context string length out of bounds');
    at += 4 + length;
    return data.toString('utf8', at - length, at);
  };
  const exportName = readString();
  if (at + 4 > data.length) throw new NbdWireError('meta context data too short');
  const count = data.readUInt32BE(at);
  at += 4;
  for (let index = 0; index < count; index++) strings.push(readString());
  if (at !== data.length) throw new NbdWireError('meta context data longer than its queries');
  return { exportName, queries: strings };
}

/** The data of an NBD_REP_META_CONTEXT reply: the id the server gives the context, and its name. */
export function encodeMetaContextReply(id: number, name: string): Buffer {
  const bytes = encodeString(name);
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32BE(id, 0);
  bytes.copy(out, 4);
  return out;
}

export function decodeMetaContextReply(data: Buffer): { id: number; name: string } {
  if (data.length < 4 || data.length > 4 + MAX_STRING_BYTES) throw new NbdWireError('NBD_REP_META_CONTEXT length out of bounds');
  return { id: data.readUInt32BE(0), name: data.toString('utf8', 4) };
}

export interface StructuredReplyHeader {
  flags: number;
  type: number;
  cookie: bigint;
  length: number;
}

export function encodeStructuredReplyHeader(header: StructuredReplyHeader): Buffer {
  const out = Buffer.alloc(STRUCTURED_REPLY_HEADER_BYTES);
  out.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  out.writeUInt16BE(header.flags, 4);
  out.writeUInt16BE(header.type, 6);
  out.writeBigUInt64BE(header.cookie, 8);
  out.writeUInt32BE(header.length, 16);
  return out;
}

/** A structured reply chunk's header; the caller read the magic with the first 16 bytes. */
export function decodeStructuredReplyHeader(buffer: Buffer): StructuredReplyHeader {
  expectLength(buffer, STRUCTURED_REPLY_HEADER_BYTES, 'structured reply header');
  if (buffer.readUInt32BE(0) !== STRUCTURED_REPLY_MAGIC) throw new NbdWireError('structured reply without its magic');
  return { flags: buffer.readUInt16BE(4), type: buffer.readUInt16BE(6), cookie: buffer.readBigUInt64BE(8), length: buffer.readUInt32BE(16) };
}

/** The 4-byte magic that starts every transmission reply, simple or structured. */
export function replyMagicOf(buffer: Buffer): number {
  return buffer.readUInt32BE(0);
}

export interface Extent {
  /** Bytes. */
  length: number;
  /** base:allocation: AllocationFlag bits. */
  flags: number;
}

export function encodeBlockStatusPayload(contextId: number, extents: readonly Extent[]): Buffer {
  const out = Buffer.alloc(4 + 8 * extents.length);
  out.writeUInt32BE(contextId, 0);
  extents.forEach((extent, index) => {
    out.writeUInt32BE(extent.length, 4 + 8 * index);
    out.writeUInt32BE(extent.flags, 8 + 8 * index);
  });
  return out;
}

export function decodeBlockStatusPayload(payload: Buffer): { contextId: number; extents: Extent[] } {
  if (payload.length < 12 || (payload.length - 4) % 8 !== 0) throw new NbdWireError(`NBD_REPLY_TYPE_BLOCK_STATUS of ${payload.length} bytes`);
  const extents: Extent[] = [];
  for (let at = 4; at < payload.length; at += 8) extents.push({ length: payload.readUInt32BE(at), flags: payload.readUInt32BE(at + 4) });
  return { contextId: payload.readUInt32BE(0), extents };
}

/** NBD_REPLY_TYPE_ERROR / ERROR_OFFSET payloads. */
export function decodeStructuredError(payload: Buffer): { error: number; message: string } {
  if (payload.length < 6) throw new NbdWireError('structured error reply too short');
  const messageLength = payload.readUInt16BE(4);
  if (6 + messageLength > payload.length) throw new NbdWireError('structured error message out of bounds');
  return { error: payload.readUInt32BE(0), message: payload.toString('utf8', 6, 6 + messageLength) };
}

export function encodeStructuredError(error: number, message: string): Buffer {
  const bytes = encodeString(message);
  const out = Buffer.alloc(6 + bytes.length);
  out.writeUInt32BE(error, 0);
  out.writeUInt16BE(bytes.length, 4);
  bytes.copy(out, 6);
  return out;
}

/** The start of an OFFSET_DATA payload (the data follows, sent separately to spare a copy). */
export function encodeOffsetDataHead(offset: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(offset, 0);
  return out;
}

export function encodeOffsetHole(offset: bigint, length: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeBigUInt64BE(offset, 0);
  out.writeUInt32BE(length, 8);
  return out;
}

export function decodeOffsetHole(payload: Buffer): { offset: bigint; length: number } {
  expectLength(payload, 12, 'NBD_REPLY_TYPE_OFFSET_HOLE');
  return { offset: payload.readBigUInt64BE(0), length: payload.readUInt32BE(8) };
}
