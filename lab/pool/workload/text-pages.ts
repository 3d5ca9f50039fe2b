// Text-like pages for the `mixed` content kind: what logs, configs and documents look like to a
// compressor (gzip ≈ 3–4×). A table of text is built once, on first use, from a built-in word list
// (lines of words, digits, punctuation); a page is filled by copying slices of that table
// at positions drawn from a PRNG seeded by (seed, page index), so any page is computed on its own
// and fast (a few native copies per 4 KiB page, no strings built per page).
import { SeededRandom } from './seeded-random.js';

export const TEXT_PAGE_SIZE = 4096;

const WORDS = (
  'the of and to in is for on that with as by at from this be are or an it was not which have has ' +
  'error warning info debug request response server client user session disk block snapshot backup ' +
  'restore delta chain merge remote storage agent host pool task run policy retention export import ' +
  'connection timeout retry failed succeeded started stopped received sent bytes records query table ' +
  'index value key file path directory config update insert delete select where order group limit ' +
  'http get post put status ok done pending queued active idle worker thread process memory cpu ' +
  'network interface address port listen accept close open read write sync flush commit abort ' +
  'database transaction lock wait time date version build release install package service system ' +
  'kernel module driver device volume mount partition filesystem cache buffer page offset length'
).split(' ');

const TABLE_SIZE = 256 * 1024;
const MIN_SLICE = 48;
const MAX_SLICE = 320;

let table: Uint8Array | undefined;

/** The shared text table (built once, deterministic). */
function textTable(): Uint8Array {
  if (table !== undefined) return table;
  const random = new SeededRandom(0x7e47);
  const parts: string[] = [];
  let length = 0;
  while (length < TABLE_SIZE) {
    const line = textLine(random);
    parts.push(line);
    length += line.length;
  }
  table = Buffer.from(parts.join('').slice(0, TABLE_SIZE), 'latin1');
  return table;
}

/** One log-like line: a timestamp-ish number, a level, words, sometimes a number. */
function textLine(random: SeededRandom): string {
  const words: string[] = [`${100000 + random.below(900000)}`];
  const count = 4 + random.below(12);
  for (let i = 0; i < count; i++) {
    words.push(random.next() < 0.08 ? String(random.below(10000)) : WORDS[random.below(WORDS.length)]!);
  }
  return `${words.join(random.next() < 0.1 ? ', ' : ' ')}\n`;
}

/** Fills `out` (TEXT_PAGE_SIZE bytes) with the text page `page` of `seed`. */
export function fillTextPage(seed: number, page: number, out: Uint8Array): void {
  const source = textTable();
  const random = new SeededRandom(mix(seed, page));
  let at = 0;
  while (at < out.length) {
    const length = Math.min(MIN_SLICE + random.below(MAX_SLICE - MIN_SLICE), out.length - at);
    const from = random.below(source.length - length);
    out.set(source.subarray(from, from + length), at);
    at += length;
  }
}

/** A 32-bit hash of (seed, index): an integer mix (murmur3 finaliser), not for anything secret. */
export function mix(seed: number, index: number): number {
  let h = (Math.trunc(seed) ^ Math.imul(Math.trunc(index) | 0, 0x9e3779b1) ^ Math.trunc(index / 2 ** 32)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
