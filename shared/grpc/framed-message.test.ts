import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Server, ServerCredentials, credentials, makeGenericClientConstructor, status, type ServerWritableStream, type ClientReadableStream, type ServerReadableStream, type ClientWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import * as compression from '@grpc/grpc-js/build/src/compression-filter.js';
import * as interceptors from '@grpc/grpc-js/build/src/server-interceptors.js';
import { FRAME_PREFIX_BYTES, FramedMessage, clientFrame, installClientFramedMessages, installFramedMessages, writeFramePrefix } from './framed-message.js';

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

type FilterSend = (this: Record<string, unknown>, message: { message: Buffer; flags?: number }) => Promise<{ message: Buffer }>;

test("a client's frame goes through grpc-js's compression filter as it is when large enough and the call's compression is identity; other messages are framed as before", async () => {
  assert.equal(installClientFramedMessages(), true, 'CompressionFilter.sendMessage found and wrapped (grpc-js changed its internals if not)');
  const send = (compression as unknown as { CompressionFilter: { prototype: { sendMessage: FilterSend } } }).CompressionFilter.prototype.sendMessage;
  const identity = (compression as unknown as { CompressionFilter: new (options: object, shared: object) => Record<string, unknown> }).CompressionFilter;
  const filter = new identity({}, {});
  assert.equal(filter.currentCompressionAlgorithm, 'identity', 'a filter without a compression option compresses nothing');
  const frame = Buffer.alloc(FRAME_PREFIX_BYTES + 1000, 7);
  writeFramePrefix(frame, 0, 1000);
  const large = clientFrame(new FramedMessage(frame), 999);
  assert.equal(large, frame, 'a message larger than the retry buffer: the whole frame');
  assert.equal((await send.call(filter, { message: large })).message, frame, 'passed through, uncopied');
  const small = clientFrame(new FramedMessage(frame), 1000);
  assert.equal(small.length, 1000, 'a message that fits the retry buffer: the message alone');
  const framed = (await send.call(filter, { message: small })).message;
  assert.notEqual(framed.buffer, frame.buffer, 'framed into a copy');
  assert.ok(framed.equals(frame));
  const plain = (await send.call(filter, { message: Buffer.from('xyz') })).message;
  assert.deepEqual([...plain], [0, 0, 0, 0, 3, 0x78, 0x79, 0x7a], 'an unmarked message is framed by grpc-js');
  filter.maxSendMessageLength = 999;
  await assert.rejects(send.call(filter, { message: large }), (e: { code?: number }) => e.code === status.RESOURCE_EXHAUSTED, 'a frame too large is refused as grpc-js refuses a message');
});

// Framing a message that fits the retry buffer too fails here: its write calls back before it is sent, the
// buffer is overwritten, and the server reads a wrong length (it then waits for bytes that never come).
test('over a real gRPC client stream, one buffer reused for every frame once its write called back: each message arrives whole and unchanged, large or small', { timeout: 60_000 }, async () => {
  installClientFramedMessages();
  const RETRY_BUFFER = 256 * 1024;
  const sizes = Array.from({ length: MESSAGES }, (_, k) => (k % 4 === 3 ? 4096 + k : BYTES));
  const received: Buffer[] = [];
  const service = {
    upload: {
      path: '/test.Framed/Upload',
      requestStream: true,
      responseStream: false,
      requestSerialize: (value: FramedMessage) => clientFrame(value, RETRY_BUFFER),
      requestDeserialize: (value: Buffer) => value,
      responseSerialize: (value: Buffer) => value,
      responseDeserialize: (value: Buffer) => value,
    },
  };
  const server = new Server({ 'grpc.max_receive_message_length': 8 * 1024 * 1024 });
  server.addService(service, {
    upload: (call: ServerReadableStream<Buffer, Buffer>, done: sendUnaryData<Buffer>) => {
      call.on('data', (message: Buffer) => received.push(Buffer.from(message)));
      call.on('end', () => done(null, Buffer.alloc(0)));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  const Client = makeGenericClientConstructor(service, 'Framed');
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.per_rpc_retry_buffer_size': RETRY_BUFFER });
  try {
    let call!: ClientWritableStream<FramedMessage>;
    const finished = new Promise<void>((resolve, reject) => {
      call = (client as unknown as { upload(done: (error: Error | null) => void): ClientWritableStream<FramedMessage> }).upload((error) => (error ? reject(error) : resolve()));
    });
    const buffer = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + BYTES);
    for (let k = 0; k < MESSAGES; k++) {
      content(k).copy(buffer, FRAME_PREFIX_BYTES, 0, sizes[k]);
      writeFramePrefix(buffer, 0, sizes[k]!);
      await new Promise<void>((resolve, reject) => call.write(new FramedMessage(buffer.subarray(0, FRAME_PREFIX_BYTES + sizes[k]!)), (error?: Error | null) => (error ? reject(error) : resolve())));
      buffer.fill(0xee); // what encoding the next block into the buffer would do
    }
    call.end();
    await finished;
    assert.equal(received.length, MESSAGES);
    received.forEach((message, k) => assert.ok(message.equals(content(k).subarray(0, sizes[k])), `message ${k} (${sizes[k]} bytes) arrived as sent`));
  } finally {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }
});
