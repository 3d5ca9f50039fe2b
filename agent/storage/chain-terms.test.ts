import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChainTermCache, TERM_BYTES, TermWriter } from './chain-terms.js';

test('terms are kept per file identity: the same path with another file (re-uploaded, merged over) misses', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'chain-terms-'));
  try {
    const path = join(folder, 'a.vhd');
    await writeFile(path, 'one');
    const cache = new ChainTermCache();
    const writer = new TermWriter();
    for (let i = 0; i < 100; i++) writer.add(i * 3, Buffer.alloc(32, i));
    const terms = writer.finish();
    assert.equal(terms.length, 100 * TERM_BYTES);
    assert.equal(terms.readUInt32BE(99 * TERM_BYTES), 297);
    cache.set(path, await stat(path), terms);
    assert.equal(cache.get(path, await stat(path))?.terms, terms);
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
    const terms = (n: number): Buffer => Buffer.alloc(n * TERM_BYTES);
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
