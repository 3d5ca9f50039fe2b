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
// The module itself, statically: the build bundles grpc-js, and this must be the copy it runs.
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
