// The client against a scripted server built from the same wire encoders: the cases no real server
// here produces on demand (no NBD_OPT_GO, hostile sizes, unknown cookies, read errors) and the bound
// on bytes in flight as the server sees it.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { ByteQueue } from './byte-queue.js';
import { NbdClient, type NbdConnectOptions } from './client.js';
import { NbdDiskReader } from './disk-reader.js';
import { NbdError } from './nbd-error.js';
import * as wire from './protocol.js';

interface Script {
  handshakeFlags?: number;
  /** Answers one option; return false to stop haggling and enter transmission. */
  option(option: number, data: Buffer, socket: Socket): boolean | Promise<boolean>;
  /** Answers a read; default: the bytes are their offset modulo 251. */
  read?(request: wire.Request, socket: Socket, inFlight: number): void | Promise<void>;
}

const servers: Server[] = [];
after(() => servers.forEach((server) => server.close()));

function pattern(offset: number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, index) => (offset + index) % 251));
}

function reply(socket: Socket, request: wire.Request): void {
  socket.write(wire.encodeSimpleReply({ error: 0, cookie: request.cookie }));
  socket.write(pattern(Number(request.offset), request.length));
}

async function scripted(script: Script): Promise<NbdConnectOptions> {
  const server = createServer((socket) => void serve(socket, script).catch(() => socket.destroy()));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { host: '127.0.0.1', port: (server.address() as { port: number }).port, exportName: 'disk', timeoutMs: 5000 };
}

async function serve(socket: Socket, script: Script): Promise<void> {
  const queue = new ByteQueue(socket, 1 << 20);
  socket.write(wire.encodeGreeting(script.handshakeFlags ?? wire.HandshakeFlag.FIXED_NEWSTYLE | wire.HandshakeFlag.NO_ZEROES));
  await queue.read(4);
  for (;;) {
    const { option, length } = wire.decodeOptionHeader(await queue.read(wire.OPTION_HEADER_BYTES));
    const data = length > 0 ? await queue.read(length) : Buffer.alloc(0);
    if (!(await script.option(option, data, socket))) break;
  }
  let inFlight = 0;
  for (;;) {
    const request = wire.decodeRequest(await queue.read(wire.REQUEST_BYTES));
    if (request.type === wire.Command.DISC) return void socket.end();
    inFlight += request.length;
    const answered = script.read ? script.read(request, socket, inFlight) : reply(socket, request);
    void Promise.resolve(answered).then(() => (inFlight -= request.length));
  }
}

function goAnswer(size: bigint): Script['option'] {
  return (option, _data, socket) => {
    socket.write(wire.encodeOptionReply(option, wire.Reply.INFO, wire.encodeExportInfo({ size, transmissionFlags: 1 })));
    socket.write(wire.encodeOptionReply(option, wire.Reply.ACK));
    return false;
  };
}

async function refusedWith(options: NbdConnectOptions, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(NbdClient.connect(options), (error: unknown) => {
    assert.ok(error instanceof NbdError, String(error));
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('NBD client against a scripted server', () => {
  it('falls back to NBD_OPT_EXPORT_NAME, zero padding included, when GO is not supported', async () => {
    const options = await scripted({
      handshakeFlags: wire.HandshakeFlag.FIXED_NEWSTYLE,
      option(option, data, socket) {
        if (option === wire.Option.GO) return socket.write(wire.encodeOptionReply(option, wire.Reply.ERR_UNSUP)), true;
        assert.equal(option, wire.Option.EXPORT_NAME);
        assert.equal(data.toString(), 'disk');
        socket.write(wire.encodeExportNameReply({ size: 1n << 20n, transmissionFlags: 1 }, false));
        return false;
      },
    });
    const client = await NbdClient.connect(options);
    assert.equal(client.size, 1 << 20);
    assert.ok((await client.read(1000, 5000)).equals(pattern(1000, 5000)));
    await client.close();
  });

  it('refuses a server that is not fixed newstyle', async () => {
    await refusedWith(await scripted({ handshakeFlags: 0, option: () => true }), 'NBD_PROTOCOL', /fixed newstyle/);
  });

  it('refuses an option reply longer than its bound before reading it', async () => {
    const options = await scripted({
      option(option, _data, socket) {
        const header = wire.encodeOptionReply(option, wire.Reply.INFO);
        header.writeUInt32BE(0xffffffff, 16);
        socket.write(header);
        return true;
      },
    });
    await refusedWith(options, 'NBD_PROTOCOL', /option reply of 4294967295 bytes/);
  });

  it('refuses an export size that is not a sane disk size', async () => {
    await refusedWith(await scripted({ option: goAnswer(1n << 62n) }), 'NBD_PROTOCOL', /not a sane disk size/);
  });

  it('reports the refusal text of an export the server does not have', async () => {
    const options = await scripted({
      option: (option, _data, socket) => (socket.write(wire.encodeOptionReply(option, wire.Reply.ERR_UNKNOWN, Buffer.from('session expired'))), true),
    });
    await refusedWith(options, 'NBD_EXPORT_REFUSED', /session expired.*fresh export name/);
  });

  it('fails every read in flight when a reply carries a cookie that was never sent', async () => {
    const options = await scripted({ option: goAnswer(1n << 20n), read: (request, socket) => void reply(socket, { ...request, cookie: request.cookie + 1000n }) });
    const client = await NbdClient.connect(options);
    const reads = [client.read(0, 512), client.read(512, 512)];
    for (const read of reads) await assert.rejects(read, (error: unknown) => error instanceof NbdError && error.code === 'NBD_PROTOCOL');
    assert.equal(client.failed, true);
    await client.close();
  });

  it("fails a read the server answers with EIO, and the others as cut so they can be asked again", async () => {
    const options = await scripted({
      option: goAnswer(1n << 20n),
      read(request, socket) {
        if (request.offset === 0n) socket.write(wire.encodeSimpleReply({ error: wire.ErrorCode.EIO, cookie: request.cookie }));
      },
    });
    const client = await NbdClient.connect(options);
    const [failed, other] = [client.read(0, 512), client.read(512, 512)];
    await assert.rejects(failed, (error: unknown) => error instanceof NbdError && error.code === 'NBD_READ_FAILED' && /EIO/.test(error.message));
    await assert.rejects(other, (error: unknown) => error instanceof NbdError && error.code === 'NBD_CONNECTION_LOST');
    await client.close();
  });

  it('keeps the bytes in flight within maxInFlightBytes, as the server counts them', async () => {
    let most = 0;
    const options = await scripted({
      option: goAnswer(16n << 20n),
      async read(request, socket, inFlight) {
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 2));
        reply(socket, request);
      },
    });
    const client = await NbdClient.connect({ ...options, maxInFlightBytes: 256 * 1024 });
    const reads = Array.from({ length: 64 }, (_, index) => client.read(index * 65536, 65536));
    const data = await Promise.all(reads);
    data.forEach((bytes, index) => assert.ok(bytes.equals(pattern(index * 65536, 65536))));
    assert.ok(most <= 256 * 1024 && most >= 128 * 1024, `at most ${most} bytes in flight`);
    await client.close();
  });
});

function structuredAnswer(size: bigint): Script['option'] {
  const go = goAnswer(size);
  return (option, data, socket) => {
    if (option === wire.Option.STRUCTURED_REPLY) return socket.write(wire.encodeOptionReply(option, wire.Reply.ACK)), true;
    if (option !== wire.Option.SET_META_CONTEXT) return go(option, data, socket);
    assert.deepEqual(wire.decodeMetaContextData(data), { exportName: 'disk', queries: [wire.BASE_ALLOCATION] });
    socket.write(wire.encodeOptionReply(option, wire.Reply.META_CONTEXT, wire.encodeMetaContextReply(7, wire.BASE_ALLOCATION)));
    socket.write(wire.encodeOptionReply(option, wire.Reply.ACK));
    return true;
  };
}

function chunk(socket: Socket, cookie: bigint, type: number, payload: Buffer, done: boolean): void {
  socket.write(wire.encodeStructuredReplyHeader({ flags: done ? wire.ReplyFlag.DONE : 0, type, cookie, length: payload.length }));
  socket.write(payload);
}

function offsetData(offset: number, data: Buffer): Buffer {
  return Buffer.concat([wire.encodeOffsetDataHead(BigInt(offset)), data]);
}

describe('NBD client with structured replies', () => {
  it('puts a read together from data and hole chunks sent out of order', async () => {
    const options = await scripted({
      option: structuredAnswer(1n << 20n),
      read(request, socket) {
        const at = Number(request.offset);
        const hole = wire.encodeOffsetHole(BigInt(at + 1000), 1000);
        chunk(socket, request.cookie, wire.StructuredReplyType.OFFSET_DATA, offsetData(at + 2000, pattern(at + 2000, request.length - 2000)), false);
        chunk(socket, request.cookie, wire.StructuredReplyType.OFFSET_HOLE, hole, false);
        chunk(socket, request.cookie, wire.StructuredReplyType.OFFSET_DATA, offsetData(at, pattern(at, 1000)), true);
      },
    });
    const client = await NbdClient.connect({ ...options, blockStatus: true });
    assert.equal(client.reportsAllocation, true);
    const data = await client.read(4096, 8192);
    assert.ok(data.subarray(0, 1000).equals(pattern(4096, 1000)));
    assert.ok(data.subarray(1000, 2000).equals(Buffer.alloc(1000)));
    assert.ok(data.subarray(2000).equals(pattern(6096, 6192)));
    await client.close();
  });

  it('fails one read on an error chunk and keeps the connection for the next', async () => {
    const options = await scripted({
      option: structuredAnswer(1n << 20n),
      read(request, socket) {
        if (request.offset === 0n) return chunk(socket, request.cookie, wire.StructuredReplyType.ERROR, wire.encodeStructuredError(wire.ErrorCode.EIO, 'bad sector'), true);
        chunk(socket, request.cookie, wire.StructuredReplyType.OFFSET_DATA, offsetData(Number(request.offset), pattern(Number(request.offset), request.length)), true);
      },
    });
    const client = await NbdClient.connect({ ...options, blockStatus: true });
    await assert.rejects(client.read(0, 512), (error: unknown) => error instanceof NbdError && error.code === 'NBD_READ_FAILED' && /EIO: bad sector/.test(error.message));
    assert.ok((await client.read(512, 512)).equals(pattern(512, 512)));
    await client.close();
  });

  it('refuses a data chunk longer than the read before reading it, and extents beyond the range', async () => {
    const options = await scripted({
      option: structuredAnswer(1n << 20n),
      read(request, socket) {
        if (request.type === wire.Command.BLOCK_STATUS) {
          return chunk(socket, request.cookie, wire.StructuredReplyType.BLOCK_STATUS, wire.encodeBlockStatusPayload(7, [{ length: request.length + 1, flags: 0 }]), true);
        }
        socket.write(wire.encodeStructuredReplyHeader({ flags: wire.ReplyFlag.DONE, type: wire.StructuredReplyType.OFFSET_DATA, cookie: request.cookie, length: 0x7fffffff }));
      },
    });
    const reading = await NbdClient.connect({ ...options, blockStatus: true });
    await assert.rejects(reading.read(0, 512), /structured reply: chunk of type 1 with 2147483647 bytes/);
    await reading.close();
    const asking = await NbdClient.connect({ ...options, blockStatus: true });
    await assert.rejects(asking.blockStatus(0, 4096), /extents beyond the range asked/);
    await asking.close();
  });

  it('says when the server reports no allocation', async () => {
    const client = await NbdClient.connect(await scripted({ option: goAnswer(1n << 20n) }));
    assert.equal(client.reportsAllocation, false);
    await assert.rejects(client.blockStatus(0, 4096), (error: unknown) => error instanceof NbdError && error.code === 'NBD_UNSUPPORTED');
    await client.close();
  });
});

describe('NBD disk reader against a scripted server', () => {
  it('keeps the bytes asked over all connections within its window while the caller is slow', async () => {
    let inFlight = 0;
    let most = 0;
    const options = await scripted({
      option: goAnswer(4n << 20n),
      async read(request, socket) {
        most = Math.max(most, (inFlight += request.length));
        await new Promise((resolve) => setTimeout(resolve, 1));
        reply(socket, request);
        inFlight -= request.length;
      },
    });
    const reader = new NbdDiskReader({ endpoint: async () => options, connections: 3, requestBytes: 65536, maxInFlightBytes: 256 * 1024 });
    await reader.open();
    let next = 0;
    for await (const part of reader.readRanges([{ offset: 0, length: 2 << 20 }])) {
      assert.equal(part.offset, next);
      assert.ok(part.data.equals(pattern(part.offset, 65536)));
      next += part.data.length;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.equal(next, 2 << 20);
    assert.ok(most <= 256 * 1024 && most >= 128 * 1024, `at most ${most} bytes in flight`);
    await reader.close();
  });

  it('refuses a reopened connection whose export has another size: it is another disk', async () => {
    let connections = 0;
    const options = await scripted({
      option: (option, data, socket) => goAnswer(connections++ === 0 ? 1n << 20n : 2n << 20n)(option, data, socket),
      read: (request, socket) => void (request.offset === 0n ? reply(socket, request) : socket.destroy()),
    });
    const reader = new NbdDiskReader({ endpoint: async () => options, connections: 1, requestBytes: 65536, retryDelayMs: 1 });
    assert.equal(await reader.open(), 1 << 20);
    const parts: number[] = [];
    const reading = (async () => {
      for await (const part of reader.readRanges([{ offset: 0, length: 1 << 20 }])) parts.push(part.offset);
    })();
    await assert.rejects(reading, (error: unknown) => error instanceof NbdError && error.code === 'NBD_PROTOCOL' && /no longer names the same disk/.test(error.message));
    assert.deepEqual(parts.slice(0, 1), [0]);
    await reader.close();
  });
});
