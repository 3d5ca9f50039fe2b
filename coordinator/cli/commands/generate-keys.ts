// The files of `deltachain keys generate` (keys-command.ts), each created exclusively.
import { randomBytes } from 'node:crypto';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKeyPair } from '../../../shared/signing/index.js';

export async function generateKeys(folder: string): Promise<string[]> {
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const pair = generateSigningKeyPair();
  const files = [
    { name: 'signing.key', text: pair.privatePem, mode: 0o600, what: "the coordinator's private signing key: keys.signing" },
    { name: 'signing.pub', text: pair.publicPem, mode: 0o644, what: "its public key, for every agent's trust.coordinatorKey" },
    { name: 'digest.key', text: `${randomBytes(32).toString('base64')}\n`, mode: 0o600, what: "the catalogue's digest key: keys.digest" },
  ];
  const made: string[] = [];
  try {
    for (const file of files) {
      const path = join(folder, file.name);
      const handle = await open(path, 'wx', file.mode).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') throw new Error(`${path} exists: keys are never replaced (a replaced signing key makes every agent refuse the coordinator's tasks); choose another --out folder, or move the old keys away first`);
        throw new Error(`cannot create ${path}: ${error.message}`);
      });
      try {
        await handle.writeFile(file.text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      made.push(path);
    }
  } catch (error) {
    // All three or none: a half-made set is removed (only what this call made).
    await Promise.all(made.map((path) => unlink(path).catch(() => undefined)));
    throw error;
  }
  return files.map((f, i) => `made ${made[i]}  (${f.what})`);
}
