import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readSigner, readVerifier } from '../../../shared/signing/index.js';
import { generateKeys } from './generate-keys.js';

describe('deltachain keys generate', () => {
  it('writes a matching Ed25519 pair and a 32-byte digest key; private files and the folder private', async () => {
    const root = await mkdtemp(join(tmpdir(), 'keys-'));
    try {
      const dir = join(root, 'keys');
      await generateKeys(dir);
      const signer = readSigner(join(dir, 'signing.key'));
      assert.ok(readVerifier(join(dir, 'signing.pub')).verify(Buffer.from('x'), signer.sign(Buffer.from('x'))));
      assert.equal(Buffer.from((await readFile(join(dir, 'digest.key'), 'utf8')).trim(), 'base64').length, 32);
      for (const name of ['signing.key', 'digest.key']) assert.equal((await stat(join(dir, name))).mode & 0o777, 0o600, name);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('never replaces a key: an existing file stops it, the old file kept and nothing else left behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    try {
      await writeFile(join(dir, 'digest.key'), 'old');
      await assert.rejects(generateKeys(dir), /digest\.key exists: keys are never replaced/);
      assert.equal(await readFile(join(dir, 'digest.key'), 'utf8'), 'old');
      assert.deepEqual(await readdir(dir), ['digest.key'], 'the signing pair made before the clash was removed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
