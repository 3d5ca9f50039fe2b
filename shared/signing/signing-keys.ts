// The coordinator's Ed25519 key pair (docs/security.md): the coordinator signs tasks and grants
// with its private key; agents pin its public key and check every task and grant they act on.
// Ed25519 because signatures are small (64 bytes), verification is cheap, there is no parameter to
// get wrong, and node:crypto has it. Keys are PEM files (PKCS#8 private, SPKI public), as
// `openssl genpkey -algorithm ed25519` writes them and `deltachain keys generate` makes them.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export const SIGNATURE_SIZE = 64;

export interface Signer {
  sign(message: Uint8Array): Buffer;
  /** The matching public key, to give to agents. */
  readonly publicKey: Verifier;
}

export interface Verifier {
  /** True when `signature` is this key's signature of `message`. Never throws on bad input. */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
  /** SPKI PEM text. */
  toPem(): string;
}

class Ed25519Verifier implements Verifier {
  constructor(private readonly key: KeyObject) {}

  verify(message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== SIGNATURE_SIZE) return false;
    try {
      return verify(null, message, this.key, signature);
    } catch {
      return false;
    }
  }

  toPem(): string {
    return this.key.export({ type: 'spki', format: 'pem' }).toString();
  }
}

class Ed25519Signer implements Signer {
  readonly publicKey: Verifier;

  constructor(private readonly key: KeyObject) {
    this.publicKey = new Ed25519Verifier(createPublicKey(key));
  }

  sign(message: Uint8Array): Buffer {
    return sign(null, message, this.key);
  }
}

export function signerFromPem(pem: string | Buffer, where: string): Signer {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw new ConfigError(`${where}: not a PEM private key: ${(cause as Error).message}`, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`${where}: an Ed25519 key is needed, this is ${key.asymmetricKeyType ?? 'not an asymmetric key'}`);
  return new Ed25519Signer(key);
}

export function verifierFromPem(pem: string | Buffer, where: string): Verifier {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new ConfigError(`${where}: not a PEM public key: ${(cause as Error).message}`, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`${where}: an Ed25519 public key is needed, this is ${key.asymmetricKeyType ?? 'not an asymmetric key'}`);
  return new Ed25519Verifier(key);
}

export function readSigner(path: string): Signer {
  return signerFromPem(readKeyFile(path, 'private key'), path);
}

export function readVerifier(path: string): Verifier {
  return verifierFromPem(readKeyFile(path, 'public key'), path);
}

/** A new key pair as PEM text (private PKCS#8, public SPKI). */
export function generateSigningKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function readKeyFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(`cannot read the ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}
