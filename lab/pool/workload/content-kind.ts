// What a lab write puts on a disk: `random` (the default: an AES-CTR keystream, incompressible,
// pattern-content.ts) or `mixed` (random, text-like and zero regions, mixed-content.ts). Both are
// deterministic and position-addressable: the same (kind, seed, offset) always gives the same bytes,
// which is what lets a raw file mirror a lab disk write for write.
import { MixedContent } from './mixed-content.js';
import { patternContent, patternKey } from './pattern-content.js';

export type ContentKind = 'random' | 'mixed';
export const CONTENT_KINDS: readonly ContentKind[] = ['random', 'mixed'];

/** Returns the content of `kind` for `seed`: `length` bytes at `offset` (offset a multiple of 16). */
export function contentSource(kind: ContentKind, seed: number): (offset: number, length: number) => Buffer {
  switch (kind) {
    case 'random': {
      const key = patternKey(seed);
      return (offset, length) => patternContent(key, offset, length);
    }
    case 'mixed': {
      const mixed = new MixedContent(seed);
      return (offset, length) => mixed.bytes(offset, length);
    }
  }
}
