// A message a server sends already framed, so that grpc-js writes the sender's buffer to the
// HTTP/2 stream as it is. grpc-js frames each message it sends into a new buffer (a 5-byte prefix:
// compressed flag 0, length as uint32 big-endian, then the serialized message) and copies the
// message into it; for a restore that is 4 GiB copied into fresh memory per 4 GiB disk, which
// profiles showed as a fifth of the storage agent's CPU, with its page faults (docs/performance-
// notes.md). A FramedMessage holds the whole frame, built in place by its sender.
//
// grpc-js offers no way to send a framed buffer, so `installFramedMessages` wraps the one method
// that frames a server's messages (BaseServerInterceptingCall.serializeMessage, an internal of
// grpc-js 1.14, the version we use) to pass a FramedMessage's frame through; every other message is framed as before. Where
// that method is not found (another grpc-js), nothing is wrapped and the service's serializer
// gets the FramedMessage: it gives the message without its prefix, which grpc-js frames with a
// copy, as before. framed-message.test.ts shows the wrapping is in place for the grpc-js we use.
//
// The frame is then the stream's until the write's callback: the HTTP/2 stream sends the buffer
// itself (nghttp2 without a copy) and calls back once the socket took it; only then may the sender
// reuse it. (A reuse too early would change the bytes sent; a restore the coordinator started
// names the chain digest the disk must have, and the host agent would refuse the disk.)
//
// A client's messages are framed the same way, further down: its calls pass each serialized
// message through the channel's compression filter, which frames it (into a new buffer, with a
// copy) whatever the compression. `installClientFramedMessages` wraps that filter's sendMessage
// (CompressionFilter.sendMessage, grpc-js 1.14) to pass through a frame the serializer marked
// (`clientFrame`) while the call's compression is identity (the default; with another, the frame's
// message is compressed and framed as before). Where that method is not found, `clientFrame` gives
// the message without its prefix and grpc-js frames it with a copy. PutDisk's blocks go this way
// (storage-client.ts): a full backup's 4 GiB, copied once less in the host agent.
//
// A client's write calls back before the transport took the message when grpc-js keeps the
// message for a retry (grpc-js's retrying call: messages that fit its per-call retry buffer,
// `grpc.per_rpc_retry_buffer_size`, called back at once); the copy made reuse safe there. So only
// a message larger than that buffer may go framed: it is never kept, and its write calls back once
// the HTTP/2 stream took it. `clientFrame` is given the limit the channel was made with.
//
// The modules themselves, statically: the build bundles grpc-js, and these must be the copies it runs.
import { status } from '@grpc/grpc-js';
import * as compression from '@grpc/grpc-js/build/src/compression-filter.js';
import * as interceptors from '@grpc/grpc-js/build/src/server-interceptors.js';

/** Bytes of gRPC's frame prefix: compressed flag and message length. */
export const FRAME_PREFIX_BYTES = 5;

export class FramedMessage {
  /** `frame`: the prefix (flag 0, length of the rest) and the serialized message. */
  constructor(readonly frame: Buffer) {
    if (frame.length < FRAME_PREFIX_BYTES || frame[0] !== 0 || frame.readUInt32BE(1) !== frame.length - FRAME_PREFIX_BYTES) {
      throw new RangeError('a framed message starts with flag 0 and the length of the message after its 5-byte prefix');
    }
  }

  /** The serialized message, without the prefix. */
  get message(): Buffer {
    return this.frame.subarray(FRAME_PREFIX_BYTES);
  }
}

/** Writes the prefix of a frame whose message is the `length` bytes at `at + 5` of `buffer`. */
export function writeFramePrefix(buffer: Buffer, at: number, length: number): void {
  buffer[at] = 0;
  buffer.writeUInt32BE(length, at + 1);
}

type Serializer = (this: unknown, value: unknown) => Buffer;

let installed: boolean | undefined;

/**
 * From now on, grpc-js servers in this process send a FramedMessage's frame as it is. Idempotent;
 * true when grpc-js's framing method was found and wrapped.
 */
export function installFramedMessages(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  const proto = (interceptors as unknown as { BaseServerInterceptingCall?: { prototype: { serializeMessage?: Serializer } } }).BaseServerInterceptingCall?.prototype;
  const frame = proto?.serializeMessage;
  if (proto === undefined || typeof frame !== 'function') return false;
  proto.serializeMessage = function serializeMessage(this: unknown, value: unknown): Buffer {
    return value instanceof FramedMessage ? value.frame : frame.call(this, value);
  };
  installed = true;
  return true;
}

interface FilterMessage {
  message: Buffer;
  flags?: number;
}
type SendMessage = (this: { currentCompressionAlgorithm?: string; maxSendMessageLength?: number }, message: Promise<FilterMessage> | FilterMessage) => Promise<FilterMessage>;

/** Frames `clientFrame` handed out, so the wrapped filter knows them (and nothing else) for frames. */
const clientFrames = new WeakSet<Buffer>();
let clientInstalled: boolean | undefined;

/**
 * From now on, grpc-js clients in this process send a frame `clientFrame` gave as it is (while
 * the call's compression is identity). Idempotent; true when the filter was found and wrapped.
 */
export function installClientFramedMessages(): boolean {
  if (clientInstalled !== undefined) return clientInstalled;
  clientInstalled = false;
  const proto = (compression as unknown as { CompressionFilter?: { prototype: { sendMessage?: SendMessage } } }).CompressionFilter?.prototype;
  const send = proto?.sendMessage;
  if (proto === undefined || typeof send !== 'function') return false;
  proto.sendMessage = async function sendMessage(message) {
    const resolved = await message;
    if (!clientFrames.has(resolved.message)) return send.call(this, resolved);
    const body = resolved.message.subarray(FRAME_PREFIX_BYTES);
    if (this.currentCompressionAlgorithm !== 'identity') return send.call(this, { ...resolved, message: body });
    const max = this.maxSendMessageLength ?? -1;
    // As the filter refuses a message too large (a status the call ends with).
    if (max !== -1 && body.length > max) throw { code: status.RESOURCE_EXHAUSTED, details: `Attempted to send message with a size larger than ${max}` };
    return resolved;
  };
  clientInstalled = true;
  return true;
}

/**
 * What a client's serializer returns for `message`: its whole frame, marked for the wrapped
 * filter, once installClientFramedMessages succeeded and the message is larger than the channel's
 * per-call retry buffer (`retryBufferBytes`); else the message alone (grpc-js frames it, copied).
 */
export function clientFrame(message: FramedMessage, retryBufferBytes: number): Buffer {
  if (clientInstalled !== true || message.frame.length - FRAME_PREFIX_BYTES <= retryBufferBytes) return message.message;
  clientFrames.add(message.frame);
  return message.frame;
}
