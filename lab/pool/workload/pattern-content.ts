// The bytes a lab write puts at a disk offset: an AES-128-CTR keystream keyed by the seed, with
// the counter at the absolute offset. Deterministic (same seed and offset, same bytes), fast,
// incompressible like real data, and computable for any range without generating what precedes.
import { createCipheriv, createHash } from 'node:crypto';

const AES_BLOCK = 16;

export function patternKey(seed: number): Buffer {
  return createHash('sha256').update(`deltachain-lab-content:${seed}`).digest().subarray(0, 16);
}

/** `length` bytes of content for `offset` (a multiple of 16). */
export function patternContent(key: Buffer, offset: number, length: number): Buffer {
  if (offset % AES_BLOCK !== 0) throw new RangeError(`pattern offset ${offset} is not a multiple of 16`);
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(offset / AES_BLOCK), 8);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  return cipher.update(Buffer.alloc(length));
}
