import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChainTermCache, FilePiecesWriter, PIECE_MARKED, PIECE_PARTIAL, PIECE_UNMARKED, TERM_BYTES, TermWriter, pieceStates } from './chain-terms.js';

test('terms are kept per file identity: the same path with another file (re-uploaded, merged over) misses', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'chain-terms-'));
  try {
    const path = join(folder, 'a.vhd');
    await writeFile(path, 'one');
    const cache = new ChainTermCache();
    const writer = new TermWriter();
    for (let i = 0; i < 100; i++) writer.add(i * 3, Buffer.alloc(32, i));
    const terms = writer.finish();
    assert.equal(terms.terms.length, 100 * TERM_BYTES);
    assert.equal(terms.terms.readUInt32BE(99 * TERM_BYTES), 297);
    assert.equal(terms.rule, 'whole');
    assert.equal(terms.pieces, undefined);
    cache.set(path, await stat(path), terms);
    assert.equal(cache.get(path, await stat(path)), terms);
    await rm(path);
    await writeFile(path, 'two');
    assert.equal(cache.get(path, await stat(path)), undefined, 'another file under the same name');
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test('the cache holds at most maxBytes, evicting the least recently used; an entry over half of it is not kept', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'chain-terms-'));
  try {
    const cache = new ChainTermCache(10 * TERM_BYTES);
    const files = await Promise.all(['a', 'b', 'c'].map(async (name) => {
      const path = join(folder, name);
      await writeFile(path, name);
      return { path, info: await stat(path) };
    }));
    const terms = (n: number) => ({ terms: Buffer.alloc(n * TERM_BYTES), rule: 'whole' as const });
    cache.set(files[0]!.path, files[0]!.info, terms(4));
    cache.set(files[1]!.path, files[1]!.info, terms(4));
    assert.ok(cache.get(files[0]!.path, files[0]!.info), 'a used: b is now the least recent');
    cache.set(files[2]!.path, files[2]!.info, terms(4));
    assert.equal(cache.get(files[1]!.path, files[1]!.info), undefined, 'b evicted');
    assert.ok(cache.get(files[0]!.path, files[0]!.info));
    assert.ok(cache.get(files[2]!.path, files[2]!.info));
    cache.set(files[1]!.path, files[1]!.info, terms(6));
    assert.equal(cache.get(files[1]!.path, files[1]!.info), undefined, 'more than half the bound');
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test('by the piece rule a date keeps each block\'s folded pieces, null where not known', () => {
  const writer = new TermWriter('pieces');
  writer.add(1, Buffer.alloc(32, 1), Buffer.alloc(1024, 7));
  writer.add(5, Buffer.alloc(32, 5));
  const terms = writer.finish();
  assert.equal(terms.rule, 'pieces');
  assert.deepEqual([...terms.pieces!.keys()], [1, 5]);
  assert.equal(terms.pieces!.get(1)!.length, 1024);
  assert.equal(terms.pieces!.get(5), null);
});

test('pieceStates: per 64 KiB piece of a 2 MiB block, marked whole, in part or not at all', () => {
  const bitmap = Buffer.alloc(512);
  bitmap.fill(0xff, 0, 16); // piece 0: sectors 0..127
  bitmap[16] = 0x80; // piece 1: sector 128 only
  bitmap.fill(0xff, 31 * 16, 32 * 16); // piece 31
  const states = pieceStates(bitmap, 2 * 1024 * 1024);
  assert.equal(states.length, 32);
  assert.equal(states[0], PIECE_MARKED);
  assert.equal(states[1], PIECE_PARTIAL);
  assert.equal(states[2], PIECE_UNMARKED);
  assert.equal(states[31], PIECE_MARKED);
  const small = pieceStates(Buffer.from([0xff, 0xff, 0xff, 0xff]), 16 * 1024);
  assert.deepEqual([...small], [PIECE_MARKED], 'a block under 64 KiB is one piece');
});

test('an upload\'s pieces past the bound are dropped whole: the commit then reads instead of composing', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'chain-terms-'));
  try {
    const path = join(folder, 'a.vhd');
    await writeFile(path, 'a');
    const full = Buffer.alloc(512, 0xff);
    const kept = new FilePiecesWriter(2 * 1024 * 1024, 10 * 1024);
    for (let i = 0; i < 3; i++) kept.add(i, full, Buffer.alloc(1024, i));
    const pieces = kept.finish()!;
    assert.deepEqual([...pieces.blocks.keys()], [0, 1, 2]);
    const over = new FilePiecesWriter(2 * 1024 * 1024, 10 * 1024);
    for (let i = 0; i < 20; i++) over.add(i, full, Buffer.alloc(1024, i));
    assert.equal(over.finish(), undefined);
    const cache = new ChainTermCache();
    cache.setFilePieces(path, await stat(path), pieces);
    assert.equal(cache.takeFilePieces(path, await stat(path)), pieces);
    assert.equal(cache.takeFilePieces(path, await stat(path)), undefined, 'taken once');
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test('a date whose pieces do not fit is kept with its terms only', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'chain-terms-'));
  try {
    const path = join(folder, 'a.vhd');
    await writeFile(path, 'a');
    const writer = new TermWriter('pieces');
    for (let i = 0; i < 10; i++) writer.add(i, Buffer.alloc(32, i), Buffer.alloc(1024, i));
    const cache = new ChainTermCache(4096);
    cache.set(path, await stat(path), writer.finish());
    const kept = cache.get(path, await stat(path));
    assert.equal(kept?.terms.length, 10 * TERM_BYTES);
    assert.equal(kept?.pieces, undefined);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
