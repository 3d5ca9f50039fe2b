import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerUploads, idleDeadline } from './upload-limits.js';

describe('PeerUploads', () => {
  it('refuses past the limit per caller, counts callers apart, frees on release (once)', () => {
    const uploads = new PeerUploads(2);
    const a1 = uploads.claim('a');
    uploads.claim('a');
    assert.throws(() => uploads.claim('a'), (e: Error & { code: string }) => e.code === 'STORAGE_LIMIT' && /a already has 2 uploads running/.test(e.message));
    uploads.claim('b');
    a1();
    a1();
    uploads.claim('a');
    assert.throws(() => uploads.claim('a'));
  });
});

describe('idleDeadline', () => {
  it('fires only after the given time without a touch', async () => {
    let fired = 0;
    // Margins of ten times the touch interval: a loaded machine delays timers by tens of ms.
    const idle = idleDeadline(0.5, () => fired++);
    for (let i = 0; i < 8; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      idle.touch();
    }
    assert.equal(fired, 0, 'touched every 50 ms for 400 ms: never idle for 500 ms');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(fired, 1);
    idle.stop();
  });
});
