import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReusedBuffers } from './reused-buffers.js';

describe('ReusedBuffers', () => {
  it('gives a buffer back for the next take of a size it holds, keeps at most `keep`, and owns only what it made', () => {
    const buffers = new ReusedBuffers(1);
    const a = buffers.take(1024);
    const b = buffers.take(1024);
    assert.notEqual(a, b);
    assert.ok(buffers.owns(a) && buffers.owns(a.subarray(0, 10)));
    assert.ok(!buffers.owns(a.subarray(1)), 'a view not at its start');
    assert.ok(!buffers.owns(Buffer.alloc(1024)), 'a buffer made elsewhere');
    buffers.give(a);
    buffers.give(a); // twice: still one entry
    buffers.give(b); // over `keep`: dropped
    assert.equal(buffers.take(512), a, 'a free buffer at least as large is reused');
    assert.notEqual(buffers.take(512), b, 'only `keep` were kept');
    buffers.give(Buffer.alloc(4096));
    assert.equal(buffers.owns(buffers.take(2048)), true, 'a foreign buffer given is not kept');
  });

  it('finds the buffer a view of it lies in, wherever the view starts', () => {
    const buffers = new ReusedBuffers();
    const a = buffers.take(4096);
    assert.equal(buffers.holder(a.subarray(512, 1024)), a);
    assert.equal(buffers.holder(a), a);
    assert.equal(buffers.holder(Buffer.alloc(16)), undefined, 'memory made elsewhere');
    assert.equal(buffers.holder(Buffer.from(a.buffer, 100, 200)), a, 'another view of the same memory');
  });

  it('with a release, hands on what it does not keep: past `keep`, the free ones at close, and any given back after close', () => {
    const released: Buffer[] = [];
    const buffers = new ReusedBuffers(1, (size) => Buffer.allocUnsafeSlow(size), (b) => released.push(b));
    const [a, b, c] = [buffers.take(64), buffers.take(64), buffers.take(64)];
    buffers.give(a);
    buffers.give(b); // over `keep`
    assert.deepEqual(released, [b]);
    buffers.give(Buffer.alloc(64)); // not made here: neither kept nor released
    buffers.close();
    assert.deepEqual(released, [b, a], 'the kept one goes at close');
    buffers.give(c); // still in use at close (a write in flight), given back after
    buffers.give(c);
    assert.deepEqual(released, [b, a, c], 'given back after close: released once');
  });
});
