import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Server, ServerCredentials, credentials, makeGenericClientConstructor, type ServerWritableStream, type ClientReadableStream } from '@grpc/grpc-js';
import * as interceptors from '@grpc/grpc-js/build/src/server-interceptors.js';
import { FRAME_PREFIX_BYTES, FramedMessage, installFramedMessages, writeFramePrefix } from './framed-message.js';

const MESSAGES = 64;
const BYTES = 2 * 1024 * 1024 + 512;

/** Message `k` of the stream: bytes anyone can recompute. */
function content(k: number): Buffer {
  const out = Buffer.allocUnsafe(BYTES);
  for (let at = 0, n = 0; at < BYTES; at += 32, n++) createHash('sha256').update(`${k}:${n}`).digest().copy(out, at);
  return out;
}

test('grpc-js is made to send a framed message as it is, and every other message as before', () => {
  assert.equal(installFramedMessages(), true, 'BaseServerInterceptingCall.serializeMessage found and wrapped (grpc-js changed its internals if not)');
  const frame = Buffer.alloc(FRAME_PREFIX_BYTES + 3);
  writeFramePrefix(frame, 0, 3);
  const proto = (interceptors as unknown as { BaseServerInterceptingCall: { prototype: { serializeMessage(value: unknown): Buffer } } }).BaseServerInterceptingCall.prototype;
  assert.equal(proto.serializeMessage.call({ handler: { serialize: () => Buffer.from('xyz') } }, new FramedMessage(frame)), frame, 'the very buffer, uncopied');
  const framed = proto.serializeMessage.call({ handler: { serialize: () => Buffer.from('xyz') } }, { any: 'message' });
  assert.deepEqual([...framed], [0, 0, 0, 0, 3, 0x78, 0x79, 0x7a], 'another message is framed by grpc-js');
  assert.throws(() => new FramedMessage(Buffer.from([0, 0, 0, 0, 9, 1])), /length of the message/);
});

test('over a real gRPC stream, one buffer reused for every frame once its write called back: each message arrives whole and unchanged', async () => {
  installFramedMessages();
  const service = {
    stream: {
      path: '/test.Framed/Stream',
      requestStream: false,
      responseStream: true,
      requestSerialize: (value: Buffer) => value,
      requestDeserialize: (value: Buffer) => value,
      responseSerialize: (value: Buffer) => value,
      responseDeserialize: (value: Buffer) => value,
    },
  };
  const server = new Server();
  server.addService(service, {
    stream: async (call: ServerWritableStream<Buffer, Buffer>) => {
      const buffer = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + BYTES);
      for (let k = 0; k < MESSAGES; k++) {
        content(k).copy(buffer, FRAME_PREFIX_BYTES);
        writeFramePrefix(buffer, 0, BYTES);
        await new Promise<void>((resolve, reject) => call.write(new FramedMessage(buffer) as unknown as Buffer, (error?: Error | null) => (error ? reject(error) : resolve())));
        buffer.fill(0xee); // what a next block read into the buffer would do
      }
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  const Client = makeGenericClientConstructor(service, 'Framed');
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': 8 * 1024 * 1024 });
  try {
    const call = (client as unknown as { stream(request: Buffer): ClientReadableStream<Buffer> }).stream(Buffer.alloc(0));
    let k = 0;
    for await (const message of call as AsyncIterable<Buffer>) {
      assert.ok(message.equals(content(k)), `message ${k} arrived as sent`);
      k++;
    }
    assert.equal(k, MESSAGES);
  } finally {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }
});
