import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlockChannel } from './block-channel.js';

describe('BlockChannel', () => {
  it('hands blocks over one at a time, in order; a slow consumer paces the producer', async () => {
    const channel = new BlockChannel<number>();
    const taken: number[] = [];
    const consumer = (async () => {
      for await (const value of channel) {
        taken.push(value);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    for (const value of [1, 2, 3]) {
      await channel.push(value);
      await Promise.resolve();
      assert.ok(taken.length >= value - 1 && taken.length <= value, `pushed ${value}, consumed ${taken.length}: never more than one ahead`);
    }
    channel.close();
    await consumer;
    assert.deepEqual(taken, [1, 2, 3]);
  });

  it('wakes a waiting producer with the consumer side failure', async () => {
    const channel = new BlockChannel<number>();
    const pushed = channel.push(1);
    channel.fail(new Error('remote refused the header'));
    await assert.rejects(pushed, /remote refused/);
    await assert.rejects(channel.push(2), /remote refused/);
  });

  it('refuses a second push before the first was taken', async () => {
    const channel = new BlockChannel<number>();
    const first = channel.push(1);
    await assert.rejects(channel.push(2), /before the previous block was taken/);
    channel.fail(new Error('done'));
    await assert.rejects(first);
  });
});
