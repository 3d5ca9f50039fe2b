import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActiveUploads } from './active-uploads.js';
import { StorageBusyError } from './errors.js';

describe('ActiveUploads', () => {
  it('a second claim of the same disk waits for the first upload to end', async () => {
    const uploads = new ActiveUploads(5000);
    const first = await uploads.claim('vm', 'xvda', 'b1');
    first.setTemporary('/r/.b1.vhd.00000000.tmp');
    assert.deepEqual([...uploads.temporaries()], ['/r/.b1.vhd.00000000.tmp']);
    let second = false;
    const waiting = uploads.claim('vm', 'xvda', 'b1').then((claim) => ((second = true), claim));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(second, false, 'still waiting');
    assert.equal((await uploads.claim('vm', 'xvdb', 'b1')).release === undefined, false, 'another disk is not held up');
    first.release();
    const claim = await waiting;
    assert.equal(uploads.isLive('vm', 'xvda', 'b1'), true);
    assert.deepEqual([...uploads.temporaries()], [], "the first upload's temporary is no longer live");
    first.release(); // a late second release of the first claim frees nothing
    assert.equal(uploads.isLive('vm', 'xvda', 'b1'), true);
    claim.release();
    assert.equal(uploads.isLive('vm', 'xvda', 'b1'), false);
  });

  it('refuses as busy (retryable) when the earlier upload does not end in time', async () => {
    const uploads = new ActiveUploads(30);
    await uploads.claim('vm', 'xvda', 'b1');
    await assert.rejects(uploads.claim('vm', 'xvda', 'b1'), (error: StorageBusyError) => error.code === 'UPLOAD_IN_PROGRESS' && error.retryable && /still being received/.test(error.message));
  });
});
