// The server side of one NBD connection against a scripted client speaking raw bytes: what a
// well-behaved client never sends (oversized options, reads past the export or beyond 32 MiB,
// options before STARTTLS when TLS is required) gets the protocol's refusals.
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ByteQueue } from '../../../shared/nbd/byte-queue.js';
import { NbdClient } from '../../../shared/nbd/client.js';
import * as wire from '../../../shared/nbd/protocol.js';
import { MAX_READ_BYTES, NbdConnection } from './nbd-connection.js';
import type { ExportSource } from './nbd-exports.js';

const SIZE = 1024 * 1024;
const NAME = '/disk';
const BLOCK = 64 * 1024;
const allocated = (index: number): boolean => index % 4 !== 3;
/** 7s in allocated blocks, zeros in the others (what a DiskReader reads there). */
const content = Buffer.alloc(SIZE, 7);
for (let index = 0; index * BLOCK < SIZE; index++) if (!allocated(index)) content.fill(0, index * BLOCK, (index + 1) * BLOCK);

const exports: ExportSource = {
  lookup: (name) => (name === NAME ? { vdiUuid: 'disk', size: SIZE } : { refused: `no export ${name}` }),
  open: () => ({
    virtualSize: SIZE,
    blockSize: BLOCK,
    isAllocated: allocated,
    async *readRange(offset: number, length: number) {
      yield content.subarray(offset, offset + length);
    },
    close: () => undefined,
  }),
};

async function serve(tls: boolean): Promise<Server> {
  // A throwaway context: these tests never complete a TLS handshake.
  const context = tls ? createSecureContext({}) : undefined;
  const server = createServer((socket) => void new NbdConnection(socket, { exports, tls: context, cutAfterBytes: () => undefined, logger: undefined }).serve());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function open(server: Server): Promise<{ socket: Socket; queue: ByteQueue }> {
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const queue = new ByteQueue(socket, 64 * 1024 * 1024);
  const greeting = wire.decodeGreeting(await queue.read(wire.GREETING_BYTES));
  assert.ok(greeting.handshakeFlags & wire.HandshakeFlag.FIXED_NEWSTYLE);
  socket.write(wire.encodeClientFlags(wire.ClientFlag.FIXED_NEWSTYLE | wire.ClientFlag.NO_ZEROES));
  return { socket, queue };
}

async function optionReply(queue: ByteQueue): Promise<wire.OptionReplyHeader & { data: Buffer }> {
  const header = wire.decodeOptionReplyHeader(await queue.read(wire.OPTION_REPLY_HEADER_BYTES));
  return { ...header, data: header.length > 0 ? await queue.read(header.length) : Buffer.alloc(0) };
}

describe('lab NBD connection, plaintext', () => {
  let server: Server;
  before(async () => (server = await serve(false)));
  after(() => new Promise((resolve) => server.close(resolve)));

  it('INFO answers EXPORT and BLOCK_SIZE; LIST is refused by policy; an unknown name is ERR_UNKNOWN; STARTTLS unsupported', async () => {
    const { socket, queue } = await open(server);
    socket.write(wire.encodeOption(wire.Option.INFO, wire.encodeGoData(NAME, [wire.Info.BLOCK_SIZE])));
    const exported = await optionReply(queue);
    assert.deepEqual(wire.decodeInfoReply(exported.data), { info: wire.Info.EXPORT, export: { size: BigInt(SIZE), transmissionFlags: wire.TransmissionFlag.HAS_FLAGS | wire.TransmissionFlag.READ_ONLY | wire.TransmissionFlag.CAN_MULTI_CONN } });
    const blockSize = wire.decodeInfoReply((await optionReply(queue)).data);
    assert.deepEqual(blockSize, { info: wire.Info.BLOCK_SIZE, blockSize: { minimum: 1, preferred: 65536, maximum: MAX_READ_BYTES } });
    assert.equal((await optionReply(queue)).type, wire.Reply.ACK);
    socket.write(wire.encodeOption(wire.Option.LIST));
    assert.equal((await optionReply(queue)).type, wire.Reply.ERR_POLICY);
    socket.write(wire.encodeOption(wire.Option.GO, wire.encodeGoData('/other', [])));
    assert.equal((await optionReply(queue)).type, wire.Reply.ERR_UNKNOWN);
    socket.write(wire.encodeOption(wire.Option.STARTTLS));
    assert.equal((await optionReply(queue)).type, wire.Reply.ERR_UNSUP);
    socket.write(wire.encodeOption(wire.Option.SET_META_CONTEXT, wire.encodeMetaContextData(NAME, [wire.BASE_ALLOCATION])));
    assert.equal((await optionReply(queue)).type, wire.Reply.ERR_INVALID, 'meta contexts need structured replies first');
    socket.destroy();
  });

  it('structured replies: reads come as data and hole chunks, base:allocation reports the holes', async () => {
    const client = await NbdClient.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, exportName: NAME, blockStatus: true });
    try {
      assert.ok(client.reportsAllocation);
      assert.ok((await client.read(BLOCK * 2 + 100, BLOCK * 3)).equals(content.subarray(BLOCK * 2 + 100, BLOCK * 5 + 100)));
      const extents = await client.blockStatus(BLOCK * 2 + 100, BLOCK * 6);
      assert.deepEqual(extents.map((e) => [e.offset, e.length, e.hole, e.zero]), [
        [BLOCK * 2 + 100, BLOCK - 100, false, false],
        [BLOCK * 3, BLOCK, true, true],
        [BLOCK * 4, BLOCK * 3, false, false],
        [BLOCK * 7, BLOCK, true, true],
        [BLOCK * 8, 100, false, false],
      ]);
    } finally {
      await client.close();
    }
  });

  it('option data beyond the bound is not read: ERR_TOO_BIG and the connection ends', async () => {
    const { socket, queue } = await open(server);
    const header = wire.encodeOption(wire.Option.GO);
    header.writeUInt32BE(0xffffffff, 12);
    socket.write(header);
    assert.equal((await optionReply(queue)).type, wire.Reply.ERR_TOO_BIG);
    await assert.rejects(queue.read(1));
  });

  it('reads: in range served, past the export or over 32 MiB refused with EINVAL, then DISC', async () => {
    const { socket, queue } = await open(server);
    socket.write(wire.encodeOption(wire.Option.GO, wire.encodeGoData(NAME, [])));
    while ((await optionReply(queue)).type !== wire.Reply.ACK);
    const requests = [
      { offset: 4096n, length: 8192 },
      { offset: BigInt(SIZE - 10), length: 11 },
      { offset: 0xfffffffffffffff0n, length: 512 },
      { offset: 0n, length: MAX_READ_BYTES + 1 },
    ];
    requests.forEach((request, index) => socket.write(wire.encodeRequest({ flags: 0, type: wire.Command.READ, cookie: BigInt(index), ...request })));
    const first = wire.decodeSimpleReply(await queue.read(wire.SIMPLE_REPLY_BYTES));
    assert.deepEqual(first, { error: 0, cookie: 0n });
    assert.ok((await queue.read(8192)).equals(content.subarray(4096, 4096 + 8192)));
    for (const cookie of [1n, 2n, 3n]) assert.deepEqual(wire.decodeSimpleReply(await queue.read(wire.SIMPLE_REPLY_BYTES)), { error: wire.ErrorCode.EINVAL, cookie });
    socket.write(wire.encodeRequest({ flags: 0, type: wire.Command.DISC, cookie: 9n, offset: 0n, length: 0 }));
    await assert.rejects(queue.read(1));
  });
});

describe('lab NBD connection, TLS required', () => {
  let server: Server;
  before(async () => (server = await serve(true)));
  after(() => new Promise((resolve) => server.close(resolve)));

  it('options before STARTTLS get ERR_TLS_REQD; EXPORT_NAME closes the connection', async () => {
    const { socket, queue } = await open(server);
    for (const option of [wire.Option.GO, wire.Option.INFO, wire.Option.LIST, wire.Option.STRUCTURED_REPLY]) {
      socket.write(wire.encodeOption(option, option === wire.Option.GO || option === wire.Option.INFO ? wire.encodeGoData(NAME, []) : undefined));
      assert.equal((await optionReply(queue)).type, wire.Reply.ERR_TLS_REQD, String(option));
    }
    socket.write(wire.encodeOption(wire.Option.EXPORT_NAME, Buffer.from(NAME)));
    await assert.rejects(queue.read(1));
  });
});
