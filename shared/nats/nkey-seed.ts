// NATS users are nkeys: each process holds its own seed (an Ed25519 private key, "SU…") in a
// file only it can read, and the server's authorization holds only the public key ("U…"). A
// leaked server config reveals no credential, and the seed never crosses the wire (the client
// signs the server's nonce). `deltachain nats-config` writes the seeds; processes read theirs.
import { readFile, writeFile } from 'node:fs/promises';
import { nkeys } from '@nats-io/transport-node';
import { ConfigError } from '../errors.js';

export interface UserKey {
  /** The seed file's content, "SU…". */
  seed: string;
  /** The public key the server's authorization names, "U…". */
  publicKey: string;
}

export function createUserKey(): UserKey {
  const pair = nkeys.createUser();
  return { seed: new TextDecoder().decode(pair.getSeed()), publicKey: pair.getPublicKey() };
}

/** The user key of a seed; refuses anything but a user seed. */
export function userKeyOf(seed: string, source: string): UserKey {
  const text = seed.trim();
  try {
    if (!text.startsWith('SU')) throw new Error('not a user seed');
    const pair = nkeys.fromSeed(new TextEncoder().encode(text));
    return { seed: text, publicKey: pair.getPublicKey() };
  } catch (cause) {
    throw new ConfigError(`${source} does not hold an nkey user seed ("SU…", as \`deltachain nats-config\` writes)`, { cause });
  }
}

export async function readSeedFile(path: string): Promise<UserKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read the NATS seed file ${path}: ${(cause as Error).message}`, { cause });
  }
  return userKeyOf(text, `the NATS seed file ${path}`);
}

/** Writes a seed readable by its owner only; never replaces an existing file. */
export async function writeSeedFile(path: string, key: UserKey): Promise<void> {
  await writeFile(path, `${key.seed}\n`, { mode: 0o600, flag: 'wx' });
}
