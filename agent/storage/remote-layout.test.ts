import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MARKER_NAME, REMOTE_FORMAT_VERSION, RemoteLayout } from './remote-layout.js';

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'deltachain-marker-'));
  try {
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const marker = async (root: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(join(root, MARKER_NAME), 'utf8')) as Record<string, unknown>;

test('a new remote is marked with the current version (6)', async () => {
  assert.equal(REMOTE_FORMAT_VERSION, 6);
  await withRoot(async (root) => {
    await new RemoteLayout(root).ensure(new Date('2026-12-04T00:00:00Z'));
    assert.deepEqual(await marker(root), { format: 'deltachain-remote', version: 6, createdAt: '2026-12-04T00:00:00.000Z' });
  });
});

test('a version 1, 2, 3, 4 or 5 remote is read and raised to 6, keeping its other fields', async () => {
  for (const version of [1, 2, 3, 4, 5]) {
    await withRoot(async (root) => {
      await writeFile(join(root, MARKER_NAME), JSON.stringify({ format: 'deltachain-remote', version, createdAt: '2026-11-26T11:00:00.000Z' }));
      await new RemoteLayout(root).ensure();
      assert.deepEqual(await marker(root), { format: 'deltachain-remote', version: 6, createdAt: '2026-11-26T11:00:00.000Z' });
    });
  }
});

test('a remote of a newer version is refused and left as it is', async () => {
  await withRoot(async (root) => {
    const body = JSON.stringify({ format: 'deltachain-remote', version: 7, createdAt: '2027-01-01T00:00:00.000Z' });
    await writeFile(join(root, MARKER_NAME), body);
    await assert.rejects(new RemoteLayout(root).ensure(), /format version 7 is newer than 6; upgrade Deltachain/);
    assert.equal(await readFile(join(root, MARKER_NAME), 'utf8'), body);
  });
});
