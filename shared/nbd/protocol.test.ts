import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as wire from './protocol.js';

describe('NBD wire format', () => {
  it('encodes the greeting, options and replies byte for byte as proto.md lays them out', () => {
    assert.equal(wire.encodeGreeting(3).toString('hex'), '4e42444d41474943' + '49484156454f5054' + '0003');
    assert.equal(wire.encodeClientFlags(3).toString('hex'), '00000003');
    assert.equal(wire.encodeOption(wire.Option.STARTTLS).toString('hex'), '49484156454f5054' + '00000005' + '00000000');
    assert.equal(wire.encodeGoData('ab', [wire.Info.BLOCK_SIZE]).toString('hex'), '00000002' + '6162' + '0001' + '0003');
    assert.equal(wire.encodeOptionReply(7, wire.Reply.ACK).toString('hex'), '0003e889045565a9' + '00000007' + '00000001' + '00000000');
    assert.equal(wire.encodeExportInfo({ size: 1n << 32n, transmissionFlags: 0x0103 }).toString('hex'), '0000' + '0000000100000000' + '0103');
    assert.equal(
      wire.encodeRequest({ flags: 0, type: wire.Command.READ, cookie: 0x0102n, offset: 0x10000n, length: 0x100000 }).toString('hex'),
      '25609513' + '0000' + '0000' + '0000000000000102' + '0000000000010000' + '00100000',
    );
    assert.equal(wire.encodeSimpleReply({ error: wire.ErrorCode.EIO, cookie: 9n }).toString('hex'), '67446698' + '00000005' + '0000000000000009');
    assert.equal(wire.encodeExportNameReply({ size: 512n, transmissionFlags: 1 }, false).length, 134);
  });

  it('decodes what it encodes, in both directions', () => {
    assert.deepEqual(wire.decodeGreeting(wire.encodeGreeting(1)), { handshakeFlags: 1 });
    assert.equal(wire.decodeClientFlags(wire.encodeClientFlags(2)), 2);
    const option = wire.encodeOption(wire.Option.GO, wire.encodeGoData('/vdi?session_id=OpaqueRef:x', [3, 1]));
    assert.deepEqual(wire.decodeOptionHeader(option.subarray(0, 16)), { option: wire.Option.GO, length: option.length - 16 });
    assert.deepEqual(wire.decodeGoData(option.subarray(16)), { exportName: '/vdi?session_id=OpaqueRef:x', infoRequests: [3, 1] });
    const reply = wire.encodeOptionReply(wire.Option.GO, wire.Reply.INFO, wire.encodeBlockSizeInfo({ minimum: 1, preferred: 4096, maximum: 1 << 25 }));
    assert.deepEqual(wire.decodeOptionReplyHeader(reply.subarray(0, 20)), { option: wire.Option.GO, type: wire.Reply.INFO, length: 14 });
    assert.deepEqual(wire.decodeInfoReply(reply.subarray(20)), { info: 3, blockSize: { minimum: 1, preferred: 4096, maximum: 1 << 25 } });
    assert.deepEqual(wire.decodeInfoReply(wire.encodeExportInfo({ size: 42n, transmissionFlags: 1 })), { info: 0, export: { size: 42n, transmissionFlags: 1 } });
    const request = { flags: 0, type: wire.Command.DISC, cookie: 7n, offset: 0n, length: 0 };
    assert.deepEqual(wire.decodeRequest(wire.encodeRequest(request)), request);
    assert.deepEqual(wire.decodeSimpleReply(wire.encodeSimpleReply({ error: 0, cookie: 7n })), { error: 0, cookie: 7n });
    assert.deepEqual(wire.decodeExportNameReply(wire.encodeExportNameReply({ size: 9n, transmissionFlags: 3 }, true)), { size: 9n, transmissionFlags: 3 });
  });

  it('refuses wrong magic, oldstyle servers, structured replies and inconsistent lengths', () => {
    const oldstyle = Buffer.alloc(18);
    oldstyle.writeBigUInt64BE(wire.NBD_MAGIC, 0);
    oldstyle.writeBigUInt64BE(wire.OLDSTYLE_MAGIC, 8);
    assert.throws(() => wire.decodeGreeting(oldstyle), /oldstyle/);
    assert.throws(() => wire.decodeGreeting(Buffer.alloc(18)), /NBDMAGIC/);
    assert.throws(() => wire.decodeOptionReplyHeader(Buffer.alloc(20)), /magic/);
    const structured = Buffer.alloc(16);
    structured.writeUInt32BE(wire.STRUCTURED_REPLY_MAGIC, 0);
    assert.throws(() => wire.decodeSimpleReply(structured), /structured/);
    const goData = wire.encodeGoData('x', [3]);
    goData.writeUInt32BE(100_000, 0);
    assert.throws(() => wire.decodeGoData(goData), /out of bounds/);
    assert.throws(() => wire.decodeGoData(Buffer.concat([wire.encodeGoData('x', [3]), Buffer.alloc(2)])), /does not match/);
    assert.throws(() => wire.decodeInfoReply(Buffer.from('00000000', 'hex')), /NBD_INFO_EXPORT/);
    assert.throws(() => wire.encodeGoData('x'.repeat(4097), []), /at most 4096/);
  });

  it('encodes and decodes structured replies and block status', () => {
    const header = { flags: wire.ReplyFlag.DONE, type: wire.StructuredReplyType.BLOCK_STATUS, cookie: 3n, length: 20 };
    assert.equal(wire.encodeStructuredReplyHeader(header).toString('hex'), '668e33ef' + '0001' + '0005' + '0000000000000003' + '00000014');
    assert.deepEqual(wire.decodeStructuredReplyHeader(wire.encodeStructuredReplyHeader(header)), header);
    const extents = [{ length: 65536, flags: 0 }, { length: 4096, flags: wire.AllocationFlag.HOLE | wire.AllocationFlag.ZERO }];
    assert.deepEqual(wire.decodeBlockStatusPayload(wire.encodeBlockStatusPayload(1, extents)), { contextId: 1, extents });
    assert.throws(() => wire.decodeBlockStatusPayload(Buffer.alloc(8)), /BLOCK_STATUS of 8 bytes/);
    assert.deepEqual(wire.decodeMetaContextData(wire.encodeMetaContextData('disk', [wire.BASE_ALLOCATION])), { exportName: 'disk', queries: [wire.BASE_ALLOCATION] });
    assert.deepEqual(wire.decodeMetaContextReply(wire.encodeMetaContextReply(9, wire.BASE_ALLOCATION)), { id: 9, name: wire.BASE_ALLOCATION });
    assert.deepEqual(wire.decodeStructuredError(wire.encodeStructuredError(wire.ErrorCode.EIO, 'bad')), { error: 5, message: 'bad' });
    assert.deepEqual(wire.decodeOffsetHole(wire.encodeOffsetHole(4096n, 512)), { offset: 4096n, length: 512 });
    assert.equal(wire.isStructuredErrorType(wire.StructuredReplyType.ERROR_OFFSET), true);
  });

  it('names replies and errors for messages', () => {
    assert.equal(wire.replyName(wire.Reply.ERR_TLS_REQD), 'NBD_REP_ERR_TLS_REQD');
    assert.equal(wire.isErrorReply(wire.Reply.ERR_UNSUP), true);
    assert.equal(wire.isErrorReply(wire.Reply.INFO), false);
    assert.equal(wire.errorCodeName(5), 'EIO');
  });
});
