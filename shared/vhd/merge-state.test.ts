// The merge state file and the merge lock on real files: atomic round trip, clear errors naming the
// file and field for anything malformed, the one uuid-mismatch exception, and one merge per parent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MergeLockedError, acquireMergeLock, mergeLockPath } from './merge-lock.js';
import {
  MergeStateError,
  listMergeStates,
  mergeExplainsUuidMismatch,
  mergeStatePath,
  readMergeState,
  removeMergeState,
  writeMergeState,
  type MergeState,
} from './merge-state.js';

const P = '11111111-1111-4111-8111-111111111111';
const C = '22222222-2222-4222-8222-222222222222';

function state(change: Partial<MergeState> = {}): MergeState {
  return {
    version: 1,
    child: 'b.vhd',
    parent: 'a.vhd',
    childUuid: C,
    parentUuid: P,
    step: 'blocks',
    nextBlock: 3,
    blocksMerged: 2,
    totalBlocks: 9,
    startedAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:01.000Z',
    ...change,
  };
}

describe('merge state file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-merge-state-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('round-trips, replaces atomically and leaves no temporary', async () => {
    await writeMergeState(dir, state());
    await writeMergeState(dir, state({ step: 'footer', nextBlock: 10 }));
    assert.deepEqual(await readMergeState(dir, 'a.vhd'), state({ step: 'footer', nextBlock: 10 }));
    assert.deepEqual(await readdir(dir), ['.a.vhd.merge.json']);
    assert.deepEqual(await listMergeStates(dir), [state({ step: 'footer', nextBlock: 10 })]);
  });

  it('is undefined when absent, and removing it twice is fine', async () => {
    await writeFile(join(dir, '.a.vhd.merge.json.0123abcd.tmp'), '{"version"'); // a write cut short
    await writeFile(join(dir, '.a.vhd.merge.json.keep'), '');
    await removeMergeState(dir, 'a.vhd');
    assert.deepEqual(await readdir(dir), ['.a.vhd.merge.json.keep']);
    await rm(join(dir, '.a.vhd.merge.json.keep'));
    await removeMergeState(dir, 'a.vhd');
    assert.equal(await readMergeState(dir, 'a.vhd'), undefined);
    assert.deepEqual(await listMergeStates(dir), []);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', '{"version": 1,', /is not JSON/],
    ['a newer version', JSON.stringify({ ...state(), version: 2 }), /field version/],
    ['a path for a name', JSON.stringify(state({ child: '../etc/passwd' })), /field child: not a plain file name/],
    ['an unknown step', JSON.stringify({ ...state(), step: 'copy' }), /field step/],
    ['a negative block', JSON.stringify(state({ nextBlock: -1 })), /field nextBlock/],
    ['an extra field', JSON.stringify({ ...state(), surprise: 1 }), /surprise/],
    ['a bad uuid', JSON.stringify(state({ childUuid: 'nope' })), /field childUuid/],
    ['another parent', JSON.stringify(state({ parent: 'z.vhd' })), /names parent "z.vhd"/],
  ];
  for (const [what, text, message] of bad) {
    it(`refuses ${what}, naming the file`, async () => {
      await writeFile(mergeStatePath(dir, 'a.vhd'), text);
      await assert.rejects(readMergeState(dir, 'a.vhd'), (error: unknown) => {
        assert.ok(error instanceof MergeStateError);
        assert.equal(error.code, 'VHD_MERGE_STATE_INVALID');
        assert.match(error.message, /\.a\.vhd\.merge\.json/);
        assert.match(error.message, message);
        return true;
      });
      await rm(mergeStatePath(dir, 'a.vhd'));
    });
  }
});

describe('mergeExplainsUuidMismatch', () => {
  const seen = { child: 'b.vhd', parent: 'a.vhd', childParentUuid: P, parentFooterUuid: C };
  it('accepts the pair named by a merge in its footer or rename step', () => {
    assert.equal(mergeExplainsUuidMismatch(state({ step: 'footer' }), seen), true);
    assert.equal(mergeExplainsUuidMismatch(state({ step: 'rename' }), seen), true);
  });
  const refused: Array<[string, MergeState | undefined, typeof seen]> = [
    ['no state', undefined, seen],
    ['blocks step', state({ step: 'blocks' }), seen],
    ['another child', state({ step: 'footer', child: 'x.vhd' }), seen],
    ['another uuid in the parent', state({ step: 'footer' }), { ...seen, parentFooterUuid: P.replace('1', '9') }],
    ['another parent uuid in the child', state({ step: 'footer' }), { ...seen, childParentUuid: C }],
  ];
  for (const [what, s, pair] of refused) {
    it(`refuses ${what}`, () => assert.equal(mergeExplainsUuidMismatch(s, pair), false));
  }
});

describe('merge lock', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deltachain-merge-lock-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lets one merge per parent run, and frees the parent on release', async () => {
    const lock = await acquireMergeLock(dir, 'a.vhd');
    await assert.rejects(acquireMergeLock(dir, 'a.vhd'), (error: unknown) => {
      assert.ok(error instanceof MergeLockedError);
      assert.equal(error.retryable, true);
      return true;
    });
    const other = await acquireMergeLock(dir, 'b.vhd');
    await lock.release();
    await other.release();
    await (await acquireMergeLock(dir, 'a.vhd')).release();
  });

  it('takes over a lock whose process died', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
    const { hostname } = await import('node:os');
    await writeFile(mergeLockPath(dir, 'c.vhd'), JSON.stringify({ host: hostname(), pid: dead }));
    const lock = await acquireMergeLock(dir, 'c.vhd');
    await lock.release();
    assert.deepEqual(await readdir(dir), []);
  });

  it('respects a lock held by a live process of another host', async () => {
    await writeFile(mergeLockPath(dir, 'd.vhd'), JSON.stringify({ host: 'elsewhere', pid: 1 }));
    await assert.rejects(acquireMergeLock(dir, 'd.vhd'), /pid 1 on elsewhere/);
    await rm(mergeLockPath(dir, 'd.vhd'));
  });
});
