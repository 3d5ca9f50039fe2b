// The coordinator's key pair as tests use it when they publish tasks themselves (no coordinator):
// one per test process, its public key written where agents' configs point (trust.coordinatorKey)
// and its signer passed to publishTask, so agents under test check signatures as in production.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeyPair, signerFromPem, type Signer } from '../../shared/signing/index.js';

export interface TaskKeys {
  signer: Signer;
  /** PEM files. */
  publicPath: string;
  privatePath: string;
}

let keys: TaskKeys | undefined;

export function testTaskKeys(): TaskKeys {
  if (keys) return keys;
  const folder = mkdtempSync(join(tmpdir(), 'dc-task-keys-'));
  const pair = generateSigningKeyPair();
  const publicPath = join(folder, 'signing.pub');
  const privatePath = join(folder, 'signing.key');
  writeFileSync(publicPath, pair.publicPem);
  writeFileSync(privatePath, pair.privatePem, { mode: 0o600 });
  process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  keys = { signer: signerFromPem(pair.privatePem, privatePath), publicPath, privatePath };
  return keys;
}
