// A restore stream's last gate before XAPI: passes the VHD stream through while computing its
// chain digest (vhd-stream-digest.ts), but holds back the closing footer — the stream's last 512
// bytes — until the whole stream was digested and the digest equals the one the catalogue
// recorded when the backup was committed. An import never completes without its closing footer
// (XAPI, and the lab pool, check it before they commit the disk), so on a mismatch the gate fails
// instead of releasing it: the upload breaks, XAPI's import fails and nothing wrong is kept.
import { Transform, type TransformCallback } from 'node:stream';
import { FOOTER_SIZE } from '../../../shared/vhd/format/index.js';
import { VhdStreamDigest } from './vhd-stream-digest.js';
import type { ChecksumRule } from '../../../shared/grpc/disk-checksum.js';

export interface ChainDigestGateOptions {
  /** Bytes of the whole stream (GetDisk's announced length). */
  length: number;
  /** The digest the stream must have, 32 bytes. */
  expected: Uint8Array;
  /** Its rule (the vhdStart's checksum_rule). */
  rule: ChecksumRule;
  /** Names the stream in format errors. */
  where: string;
  /** The error to fail with when the digest differs. */
  mismatch(expected: Buffer, actual: Buffer): Error;
  /** The error to fail with when the stream cannot be digested (not the layout a restore receives). */
  invalid(cause: unknown): Error;
}

export class ChainDigestGate extends Transform {
  readonly #options: ChainDigestGateOptions;
  readonly #digest: VhdStreamDigest;
  readonly #held: Buffer[] = [];
  #received = 0;
  /** Why the gate failed, once it did (the error the restore reports). */
  failure: Error | undefined;
  /** True once the digest was computed and matched. */
  matched = false;

  constructor(options: ChainDigestGateOptions) {
    super({ highWaterMark: 1024 * 1024 });
    this.#options = options;
    this.#digest = new VhdStreamDigest(options.where, options.rule);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.#digest.update(chunk);
    } catch (error) {
      return done(this.#fail(this.#options.invalid(error)));
    }
    const releaseEnd = this.#options.length - FOOTER_SIZE;
    const start = this.#received;
    this.#received += chunk.length;
    if (this.#received <= releaseEnd) return done(null, chunk);
    const cut = Math.max(0, releaseEnd - start);
    this.#held.push(Buffer.from(chunk.subarray(cut)));
    done(null, cut > 0 ? chunk.subarray(0, cut) : undefined);
  }

  override _flush(done: TransformCallback): void {
    let actual: Buffer;
    try {
      actual = this.#digest.digest();
    } catch (error) {
      return done(this.#fail(this.#options.invalid(error)));
    }
    const expected = Buffer.from(this.#options.expected);
    if (!actual.equals(expected)) return done(this.#fail(this.#options.mismatch(expected, actual)));
    this.matched = true;
    done(null, Buffer.concat(this.#held));
  }

  #fail(error: Error): Error {
    this.failure = error;
    return error;
  }
}
